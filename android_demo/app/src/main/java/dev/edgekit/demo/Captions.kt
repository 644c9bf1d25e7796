package dev.edgekit.demo

import android.content.Context
import org.json.JSONObject

/** Captions per language and emotion from `assets/captions.json` (a sample of edgekit's caption
 *  library, written by export_assets.py). */
class Captions(context: Context, file: String) {
    private val byLanguage: Map<String, Map<String, List<String>>>

    init {
        val root = JSONObject(context.assets.open(file).bufferedReader().use { it.readText() }).getJSONObject("captions")
        byLanguage = root.keys().asSequence().associateWith { lang ->
            val emotions = root.getJSONObject(lang)
            emotions.keys().asSequence().associateWith { emotion ->
                val list = emotions.getJSONArray(emotion)
                List(list.length()) { list.getString(it) }
            }
        }
    }

    /** The `index`-th caption (cycling) for `emotion` in `language`, or null if there is none. */
    fun pick(emotion: String, language: String, index: Int): String? {
        val captions = byLanguage[language]?.get(emotion).orEmpty()
        return if (captions.isEmpty()) null else captions[Math.floorMod(index, captions.size)]
    }
}
