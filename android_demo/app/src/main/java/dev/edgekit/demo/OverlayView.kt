package dev.edgekit.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.RectF
import android.util.AttributeSet
import android.view.View
import kotlin.math.max

/** Draws the face box, the emotion label with its score, and the caption over the preview.
 *  Frame coordinates are mapped like PreviewView's default FILL_CENTER (mirrored for the front camera). */
class OverlayView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private var result: FrameResult? = null
    private var frameWidth = 1
    private var frameHeight = 1
    private var mirrored = false
    private val boxPaint = Paint().apply { style = Paint.Style.STROKE; strokeWidth = 6f; color = Color.GREEN }
    private val labelPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply { color = Color.WHITE; textSize = 56f; setShadowLayer(6f, 0f, 0f, Color.BLACK) }
    private val captionPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.WHITE; textSize = 64f; textAlign = Paint.Align.CENTER; setShadowLayer(8f, 0f, 0f, Color.BLACK)
    }

    fun show(result: FrameResult, frameWidth: Int, frameHeight: Int, mirrored: Boolean) {
        this.result = result
        this.frameWidth = frameWidth
        this.frameHeight = frameHeight
        this.mirrored = mirrored
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val r = result ?: return
        val face = r.face
        if (face == null) {
            canvas.drawText(context.getString(R.string.no_face), 32f, 96f, labelPaint)
            return
        }
        val scale = max(width.toFloat() / frameWidth, height.toFloat() / frameHeight)
        val dx = (width - frameWidth * scale) / 2f
        val dy = (height - frameHeight * scale) / 2f
        fun x(v: Float) = if (mirrored) width - (dx + v * scale) else dx + v * scale
        val box = RectF(minOf(x(face.box.left), x(face.box.right)), dy + face.box.top * scale,
            maxOf(x(face.box.left), x(face.box.right)), dy + face.box.bottom * scale)
        canvas.drawRect(box, boxPaint)
        canvas.drawText("${r.label} ${"%.0f".format(100 * r.score)}%  ${r.inferenceMs} ms", box.left, box.top - 16f, labelPaint)
        r.caption?.let { canvas.drawText(it, width / 2f, height - 160f, captionPaint) }
    }
}
