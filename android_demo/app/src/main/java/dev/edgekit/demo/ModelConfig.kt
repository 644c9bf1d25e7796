package dev.edgekit.demo

import android.content.Context
import org.json.JSONArray
import org.json.JSONObject

/**
 * What the app knows about its models, read from `assets/model_config.json`. That file is written
 * by `python android_demo/export_assets.py` from edgekit's own sources (model manifest, BlazeFace
 * graph options, aligner template, the emotion model's TFLite metadata); nothing here is hard-coded,
 * and `tests/benchmarks/test_android_demo.py` checks the file against those sources.
 */
data class InputSpec(
    val width: Int,
    val height: Int,
    val channels: Int,
    val dtype: String,
    val rangeLow: Float,
    val rangeHigh: Float,
)

data class AnchorOptions(
    val minScale: Float,
    val maxScale: Float,
    val strides: IntArray,
    val offsetX: Float,
    val offsetY: Float,
    val aspectRatios: FloatArray,
    val interpolatedScaleAspectRatio: Float,
    val fixedAnchorSize: Boolean,
    val reduceBoxesInLowestLayer: Boolean,
)

data class DecodeOptions(
    val numBoxes: Int,
    val numCoords: Int,
    val xScale: Float,
    val yScale: Float,
    val wScale: Float,
    val hScale: Float,
    val boxCoordOffset: Int,
    val keypointCoordOffset: Int,
    val numKeypoints: Int,
    val reverseOutputOrder: Boolean,
    val sigmoidScore: Boolean,
    val scoreClippingThresh: Float,
)

data class DetectorConfig(
    val file: String,
    val input: InputSpec,
    val anchors: AnchorOptions,
    val decode: DecodeOptions,
    val minScore: Float,
    val nmsIou: Float,
    val keypoints: List<String>,
)

data class EmotionConfig(
    val file: String,
    val input: InputSpec,
    val mean: Float,
    val std: Float,
    val labels: List<String>,
)

/** Eye centres in the aligned crop, as fractions of its width/height (pixel-edge convention). */
data class AlignmentConfig(val leftEyeX: Float, val leftEyeY: Float, val rightEyeX: Float, val rightEyeY: Float)

data class ModelConfig(
    val detector: DetectorConfig,
    val emotion: EmotionConfig,
    val alignment: AlignmentConfig,
    val captionsFile: String,
    val languages: List<String>,
    val smoothingMs: Float,
) {
    companion object {
        const val ASSET = "model_config.json"

        fun load(context: Context): ModelConfig =
            parse(JSONObject(context.assets.open(ASSET).bufferedReader().use { it.readText() }))

        fun parse(root: JSONObject): ModelConfig {
            val det = root.getJSONObject("detector")
            val emo = root.getJSONObject("emotion")
            val align = root.getJSONObject("alignment")
            val captions = root.getJSONObject("captions")
            val norm = emo.getJSONObject("normalization")
            return ModelConfig(
                detector = DetectorConfig(
                    file = det.getString("file"),
                    input = inputSpec(det.getJSONObject("input")),
                    anchors = anchorOptions(det.getJSONObject("anchors")),
                    decode = decodeOptions(det.getJSONObject("decode")),
                    minScore = det.getDouble("min_score").toFloat(),
                    nmsIou = det.getDouble("nms_iou").toFloat(),
                    keypoints = strings(det.getJSONArray("keypoints")),
                ),
                emotion = EmotionConfig(
                    file = emo.getString("file"),
                    input = inputSpec(emo.getJSONObject("input")),
                    mean = norm.getJSONArray("mean").getDouble(0).toFloat(),
                    std = norm.getJSONArray("std").getDouble(0).toFloat(),
                    labels = strings(emo.getJSONArray("labels")),
                ),
                alignment = AlignmentConfig(
                    leftEyeX = align.getJSONArray("image_left_eye").getDouble(0).toFloat(),
                    leftEyeY = align.getJSONArray("image_left_eye").getDouble(1).toFloat(),
                    rightEyeX = align.getJSONArray("image_right_eye").getDouble(0).toFloat(),
                    rightEyeY = align.getJSONArray("image_right_eye").getDouble(1).toFloat(),
                ),
                captionsFile = captions.getString("file"),
                languages = strings(captions.getJSONArray("languages")),
                smoothingMs = root.getJSONObject("smoothing").getDouble("ema_time_constant_ms").toFloat(),
            )
        }

        private fun inputSpec(o: JSONObject): InputSpec {
            val range = o.getJSONArray("range")
            return InputSpec(
                width = o.getInt("width"),
                height = o.getInt("height"),
                channels = o.getInt("channels"),
                dtype = o.getString("dtype"),
                rangeLow = range.getDouble(0).toFloat(),
                rangeHigh = range.getDouble(1).toFloat(),
            )
        }

        private fun anchorOptions(o: JSONObject): AnchorOptions {
            val strides = o.getJSONArray("strides")
            val ratios = o.getJSONArray("aspect_ratios")
            return AnchorOptions(
                minScale = o.getDouble("min_scale").toFloat(),
                maxScale = o.getDouble("max_scale").toFloat(),
                strides = IntArray(strides.length()) { strides.getInt(it) },
                offsetX = o.getDouble("offset_x").toFloat(),
                offsetY = o.getDouble("offset_y").toFloat(),
                aspectRatios = FloatArray(ratios.length()) { ratios.getDouble(it).toFloat() },
                interpolatedScaleAspectRatio = o.getDouble("interpolated_scale_aspect_ratio").toFloat(),
                fixedAnchorSize = o.getBoolean("fixed_anchor_size"),
                reduceBoxesInLowestLayer = o.getBoolean("reduce_boxes_in_lowest_layer"),
            )
        }

        private fun decodeOptions(o: JSONObject) = DecodeOptions(
            numBoxes = o.getInt("num_boxes"),
            numCoords = o.getInt("num_coords"),
            xScale = o.getDouble("x_scale").toFloat(),
            yScale = o.getDouble("y_scale").toFloat(),
            wScale = o.getDouble("w_scale").toFloat(),
            hScale = o.getDouble("h_scale").toFloat(),
            boxCoordOffset = o.getInt("box_coord_offset"),
            keypointCoordOffset = o.getInt("keypoint_coord_offset"),
            numKeypoints = o.getInt("num_keypoints"),
            reverseOutputOrder = o.getBoolean("reverse_output_order"),
            sigmoidScore = o.getBoolean("sigmoid_score"),
            scoreClippingThresh = o.getDouble("score_clipping_thresh").toFloat(),
        )

        private fun strings(a: JSONArray): List<String> = List(a.length()) { a.getString(it) }
    }
}
