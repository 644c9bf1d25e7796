package dev.edgekit.demo

import kotlin.math.ceil
import kotlin.math.sqrt

/** SSD anchors `(xCenter, yCenter, width, height)` in [0, 1], in MediaPipe's order: the same port
 *  of `SsdAnchorsCalculator` as `edgekit/detection/anchors.py`. */
object SsdAnchors {
    fun generate(o: AnchorOptions, inputWidth: Int, inputHeight: Int): Array<FloatArray> {
        val anchors = ArrayList<FloatArray>()
        val numLayers = o.strides.size
        var layer = 0
        while (layer < numLayers) {
            val scales = ArrayList<Float>()
            val ratios = ArrayList<Float>()
            var last = layer
            while (last < numLayers && o.strides[last] == o.strides[layer]) {
                val scale = scale(o.minScale, o.maxScale, last, numLayers)
                if (last == 0 && o.reduceBoxesInLowestLayer) {
                    ratios += listOf(1f, 2f, 0.5f)
                    scales += listOf(0.1f, scale, scale)
                } else {
                    for (r in o.aspectRatios) {
                        ratios += r
                        scales += scale
                    }
                    if (o.interpolatedScaleAspectRatio > 0f) {
                        val next = if (last == numLayers - 1) 1f else scale(o.minScale, o.maxScale, last + 1, numLayers)
                        scales += sqrt(scale * next)
                        ratios += o.interpolatedScaleAspectRatio
                    }
                }
                last++
            }
            val stride = o.strides[layer]
            val rows = ceil(inputHeight.toFloat() / stride).toInt()
            val cols = ceil(inputWidth.toFloat() / stride).toInt()
            for (y in 0 until rows) {
                for (x in 0 until cols) {
                    val cx = (x + o.offsetX) / cols
                    val cy = (y + o.offsetY) / rows
                    for (i in scales.indices) {
                        if (o.fixedAnchorSize) {
                            anchors += floatArrayOf(cx, cy, 1f, 1f)
                        } else {
                            val r = sqrt(ratios[i])
                            anchors += floatArrayOf(cx, cy, scales[i] * r, scales[i] / r)
                        }
                    }
                }
            }
            layer = last
        }
        return anchors.toTypedArray()
    }

    private fun scale(min: Float, max: Float, index: Int, count: Int): Float =
        if (count == 1) (min + max) * 0.5f else min + (max - min) * index / (count - 1f)
}
