package dev.edgekit.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapShader
import android.graphics.Canvas
import android.graphics.Matrix
import android.graphics.Paint
import android.graphics.Shader
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The emotion model on LiteRT, fed like edgekit's `FaceAligner` + `EmotionClassifier`: a similarity
 * transform puts the two eyes on the template positions of the crop (border pixels replicated),
 * the crop's RGB values are normalised with the model metadata's mean/std (0 and 1: raw 0..255,
 * the scaling is inside the model) and quantized with the input tensor's own parameters.
 */
class EmotionClassifier(
    context: Context,
    private val config: EmotionConfig,
    private val alignment: AlignmentConfig,
    keypointNames: List<String>,
    threads: Int,
) : AutoCloseable {
    private val interpreter = newInterpreter(context, config.file, threads)
    private val inputTensor = interpreter.getInputTensor(0)
    private val outputTensor = interpreter.getOutputTensor(0)
    private val width = config.input.width
    private val height = config.input.height
    private val input = ByteBuffer.allocateDirect(inputTensor.numBytes()).order(ByteOrder.nativeOrder())
    private val output = ByteBuffer.allocateDirect(outputTensor.numBytes()).order(ByteOrder.nativeOrder())
    private val crop = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
    private val pixels = IntArray(width * height)
    // BlazeFace's "right_eye" is the subject's right eye: the one on the left of the picture.
    private val imageLeftEye = keypointNames.indexOf("right_eye")
    private val imageRightEye = keypointNames.indexOf("left_eye")

    init {
        require(config.labels.size == outputTensor.numElements()) {
            "model has ${outputTensor.numElements()} outputs but model_config.json lists ${config.labels.size} labels"
        }
    }

    /** Probabilities in `config.labels` order for the face. */
    fun classify(frame: Bitmap, face: Face): FloatArray {
        val left = face.keypoints[imageLeftEye]
        val right = face.keypoints[imageRightEye]
        val toCrop = Matrix()
        toCrop.setPolyToPoly(
            floatArrayOf(left.x, left.y, right.x, right.y), 0,
            floatArrayOf(alignment.leftEyeX * width, alignment.leftEyeY * height,
                alignment.rightEyeX * width, alignment.rightEyeY * height), 0,
            2,
        )
        val frameShader = BitmapShader(frame, Shader.TileMode.CLAMP, Shader.TileMode.CLAMP).apply { setLocalMatrix(toCrop) }
        val paint = Paint(Paint.FILTER_BITMAP_FLAG).apply { shader = frameShader }
        Canvas(crop).drawRect(0f, 0f, width.toFloat(), height.toFloat(), paint)
        crop.getPixels(pixels, 0, width, 0, 0, width, height)
        input.rewind()
        for (p in pixels) {
            for (channel in intArrayOf((p shr 16) and 0xFF, (p shr 8) and 0xFF, p and 0xFF)) {
                putValue(input, inputTensor, (channel - config.mean) / config.std)
            }
        }
        input.rewind()
        output.rewind()
        interpreter.run(input, output)
        return readValues(output, outputTensor)
    }

    override fun close() = interpreter.close()
}
