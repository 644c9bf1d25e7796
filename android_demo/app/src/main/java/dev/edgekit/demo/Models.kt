package dev.edgekit.demo

import android.content.Context
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import kotlin.math.roundToInt

/** Memory-maps a model stored uncompressed in the APK's assets (see `noCompress` in build.gradle.kts). */
fun loadModel(context: Context, asset: String): MappedByteBuffer =
    context.assets.openFd(asset).use { fd ->
        FileInputStream(fd.fileDescriptor).channel.use { channel ->
            channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
        }
    }

/** A LiteRT interpreter on the CPU (XNNPACK is LiteRT's default CPU path). */
fun newInterpreter(context: Context, asset: String, threads: Int): Interpreter =
    Interpreter(loadModel(context, asset), Interpreter.Options().setNumThreads(threads))

/** Writes one real value into a tensor buffer, quantized with the tensor's own parameters. */
fun putValue(buffer: ByteBuffer, tensor: Tensor, real: Float) {
    when (tensor.dataType()) {
        DataType.FLOAT32 -> buffer.putFloat(real)
        DataType.UINT8, DataType.INT8 -> {
            val q = tensor.quantizationParams()
            val scale = if (q.scale == 0f) 1f else q.scale
            val lo = if (tensor.dataType() == DataType.UINT8) 0 else Byte.MIN_VALUE.toInt()
            buffer.put(((real / scale).roundToInt() + q.zeroPoint).coerceIn(lo, lo + 255).toByte())
        }
        else -> throw IllegalArgumentException("unsupported input type ${tensor.dataType()}")
    }
}

/** Reads a whole output tensor as real values, dequantized with the tensor's own parameters. */
fun readValues(buffer: ByteBuffer, tensor: Tensor): FloatArray {
    buffer.rewind()
    val count = tensor.numElements()
    return when (tensor.dataType()) {
        DataType.FLOAT32 -> FloatArray(count) { buffer.float }
        DataType.UINT8, DataType.INT8 -> {
            val q = tensor.quantizationParams()
            val unsigned = tensor.dataType() == DataType.UINT8
            FloatArray(count) {
                val raw = buffer.get().toInt()
                ((if (unsigned) raw and 0xFF else raw) - q.zeroPoint) * q.scale
            }
        }
        else -> throw IllegalArgumentException("unsupported output type ${tensor.dataType()}")
    }
}
