package dev.edgekit.demo

import android.content.Context
import android.graphics.Bitmap
import android.os.SystemClock
import java.util.Locale
import kotlin.math.exp

/** What one camera frame gave: the largest face, its smoothed emotion and a caption. */
data class FrameResult(
    val face: Face?,
    val label: String?,
    val score: Float,
    val caption: String?,
    val inferenceMs: Long,
)

/** Detector + emotion classifier + temporal smoothing (exponential moving average with the
 *  config's time constant, as edgekit's video mode) + a caption that changes with the label. */
class EmotionPipeline(context: Context, private val config: ModelConfig, threads: Int = 2) : AutoCloseable {
    private val detector = FaceDetector(context, config.detector, threads)
    private val classifier = EmotionClassifier(context, config.emotion, config.alignment, config.detector.keypoints, threads)
    private val captions = Captions(context, config.captionsFile)
    private val language = Locale.getDefault().language.takeIf { it in config.languages } ?: config.languages.first()
    private var smoothed: FloatArray? = null
    private var lastTimestampMs = 0L
    private var captionLabel: String? = null
    private var caption: String? = null
    private var captionCount = 0

    fun process(frame: Bitmap, timestampMs: Long): FrameResult {
        val start = SystemClock.elapsedRealtime()
        val face = detector.detect(frame).maxByOrNull { it.box.width() * it.box.height() }
        if (face == null) {
            smoothed = null
            return FrameResult(null, null, 0f, null, SystemClock.elapsedRealtime() - start)
        }
        val probs = classifier.classify(frame, face)
        val previous = smoothed
        smoothed = if (previous == null) probs else {
            val alpha = 1f - exp(-(timestampMs - lastTimestampMs) / config.smoothingMs)
            FloatArray(probs.size) { previous[it] + alpha * (probs[it] - previous[it]) }
        }
        lastTimestampMs = timestampMs
        val current = smoothed!!
        val best = current.indices.maxByOrNull { current[it] } ?: 0
        val label = config.emotion.labels[best]
        if (label != captionLabel) {
            captionLabel = label
            caption = captions.pick(label, language, captionCount++)
        }
        return FrameResult(face, label, current[best], caption, SystemClock.elapsedRealtime() - start)
    }

    override fun close() {
        detector.close()
        classifier.close()
    }
}
