package dev.edgekit.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Matrix
import android.graphics.Paint
import android.graphics.PointF
import android.graphics.RectF
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.exp
import kotlin.math.max
import kotlin.math.min

/** One face in frame pixels: box, keypoints in the config's `keypoints` order, score. */
data class Face(val box: RectF, val keypoints: List<PointF>, val score: Float)

/**
 * BlazeFace on LiteRT with MediaPipe's pre/post-processing, as edgekit's `FaceDetector` does it:
 * letterbox the frame into the model input (float RGB in the config's range), decode boxes and
 * keypoints against the SSD anchors, sigmoid scores, weighted non-maximum suppression.
 */
class FaceDetector(context: Context, private val config: DetectorConfig, threads: Int) : AutoCloseable {
    private val interpreter = newInterpreter(context, config.file, threads)
    private val anchors = SsdAnchors.generate(config.anchors, config.input.width, config.input.height)
    private val width = config.input.width
    private val height = config.input.height
    private val inputTensor = interpreter.getInputTensor(0)
    private val input = ByteBuffer.allocateDirect(inputTensor.numBytes()).order(ByteOrder.nativeOrder())
    private val letterboxed = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
    private val pixels = IntArray(width * height)
    private val paint = Paint(Paint.FILTER_BITMAP_FLAG)
    private val boxesIndex: Int
    private val scoresIndex: Int
    private val boxes: ByteBuffer
    private val scores: ByteBuffer

    init {
        val outputs = (0 until interpreter.outputTensorCount).associateBy { interpreter.getOutputTensor(it).shape().last() }
        boxesIndex = outputs.getValue(config.decode.numCoords)
        scoresIndex = outputs.getValue(1)
        boxes = ByteBuffer.allocateDirect(interpreter.getOutputTensor(boxesIndex).numBytes()).order(ByteOrder.nativeOrder())
        scores = ByteBuffer.allocateDirect(interpreter.getOutputTensor(scoresIndex).numBytes()).order(ByteOrder.nativeOrder())
    }

    fun detect(frame: Bitmap): List<Face> {
        // MediaPipe's PadRoi: grow the whole frame to the input's aspect ratio, centred (letterbox).
        val inputRatio = height.toFloat() / width
        val roiW = if (inputRatio > frame.height.toFloat() / frame.width) frame.width.toFloat() else frame.height / inputRatio
        val roiH = roiW * inputRatio
        val x0 = (frame.width - roiW) / 2f
        val y0 = (frame.height - roiH) / 2f
        val toInput = Matrix().apply {
            setRectToRect(RectF(x0, y0, x0 + roiW, y0 + roiH), RectF(0f, 0f, width.toFloat(), height.toFloat()), Matrix.ScaleToFit.FILL)
        }
        Canvas(letterboxed).apply {
            drawColor(Color.BLACK)
            drawBitmap(frame, toInput, paint)
        }
        letterboxed.getPixels(pixels, 0, width, 0, 0, width, height)
        val lo = config.input.rangeLow
        val step = (config.input.rangeHigh - lo) / 255f
        input.rewind()
        for (p in pixels) {
            putValue(input, inputTensor, ((p shr 16) and 0xFF) * step + lo)
            putValue(input, inputTensor, ((p shr 8) and 0xFF) * step + lo)
            putValue(input, inputTensor, (p and 0xFF) * step + lo)
        }
        input.rewind()
        boxes.rewind()
        scores.rewind()
        interpreter.runForMultipleInputsOutputs(arrayOf(input), mapOf(boxesIndex to boxes, scoresIndex to scores))
        val raw = readValues(boxes, interpreter.getOutputTensor(boxesIndex))
        val logits = readValues(scores, interpreter.getOutputTensor(scoresIndex))
        return weightedNms(decode(raw, logits)).map { it.toFrame(x0, y0, roiW, roiH) }
    }

    /** Candidates above `min_score`, in [0, 1] input coordinates (box = left, top, right, bottom). */
    private fun decode(raw: FloatArray, logits: FloatArray): List<Face> {
        val d = config.decode
        val out = ArrayList<Face>()
        for (i in 0 until d.numBoxes) {
            var score = logits[i]
            if (d.sigmoidScore) {
                score = 1f / (1f + exp(-score.coerceIn(-d.scoreClippingThresh, d.scoreClippingThresh)))
            }
            if (score < config.minScore) continue
            val a = anchors[i]
            val base = i * d.numCoords
            fun pair(offset: Int): Pair<Float, Float> {
                val first = raw[base + offset]
                val second = raw[base + offset + 1]
                return if (d.reverseOutputOrder) first to second else second to first
            }
            val (dx, dy) = pair(d.boxCoordOffset)
            val (dw, dh) = pair(d.boxCoordOffset + 2)
            val cx = dx / d.xScale * a[2] + a[0]
            val cy = dy / d.yScale * a[3] + a[1]
            val w = dw / d.wScale * a[2]
            val h = dh / d.hScale * a[3]
            if (w < 0f || h < 0f) continue
            val keypoints = List(d.numKeypoints) { k ->
                val (kx, ky) = pair(d.keypointCoordOffset + 2 * k)
                PointF(kx / d.xScale * a[2] + a[0], ky / d.yScale * a[3] + a[1])
            }
            out += Face(RectF(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), keypoints, score)
        }
        return out
    }

    /** MediaPipe's weighted NMS: each kept face is the score-weighted mean of the faces overlapping
     *  the best remaining one by more than `nms_iou`; its score stays the best score. */
    private fun weightedNms(candidates: List<Face>): List<Face> {
        val remaining = candidates.sortedByDescending { it.score }.toMutableList()
        val out = ArrayList<Face>()
        while (remaining.isNotEmpty()) {
            val top = remaining.first()
            val group = remaining.filter { iou(top.box, it.box) > config.nmsIou }.ifEmpty { listOf(top) }
            val total = group.sumOf { it.score.toDouble() }.toFloat()
            fun mean(value: (Face) -> Float) = group.sumOf { (value(it) * it.score).toDouble() }.toFloat() / total
            out += Face(
                RectF(mean { it.box.left }, mean { it.box.top }, mean { it.box.right }, mean { it.box.bottom }),
                top.keypoints.indices.map { k -> PointF(mean { it.keypoints[k].x }, mean { it.keypoints[k].y }) },
                top.score,
            )
            remaining.removeAll(group.toSet())
        }
        return out
    }

    private fun iou(a: RectF, b: RectF): Float {
        val inter = max(0f, min(a.right, b.right) - max(a.left, b.left)) * max(0f, min(a.bottom, b.bottom) - max(a.top, b.top))
        val union = a.width() * a.height() + b.width() * b.height() - inter
        return if (union > 0f) inter / union else 0f
    }

    private fun Face.toFrame(x0: Float, y0: Float, roiW: Float, roiH: Float) = Face(
        RectF(x0 + box.left * roiW, y0 + box.top * roiH, x0 + box.right * roiW, y0 + box.bottom * roiH),
        keypoints.map { PointF(x0 + it.x * roiW, y0 + it.y * roiH) },
        score,
    )

    override fun close() = interpreter.close()
}
