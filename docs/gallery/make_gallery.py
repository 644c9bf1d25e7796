"""Rebuild the meme gallery in this folder: ``python docs/gallery/make_gallery.py``.

Uses the bundled demo photo (NASA astronaut portrait, public domain) and scikit-image's
``chelsea.png`` (a cat, CC0; the ``[test]`` extra installs scikit-image). Captions come from the
caption library (the default source) with fixed seeds; docs/gallery/gallery.json lists what each file shows.
"""
from __future__ import annotations

import json
from pathlib import Path

import edgekit
from edgekit.assets import demo_photo
from edgekit.meme import make_gif, make_meme

HERE = Path(__file__).resolve().parent


def main() -> None:
    photo = edgekit.load_image(demo_photo())
    memes = {
        "astronaut_zh_anime.png": make_meme(photo, lang="zh", style="anime", seed=11),
        "astronaut_en_bubble.png": make_meme(photo, lang="en", style="sarcastic", scene="work", seed=5,
                                             placement="bubble"),
        "closeup_band_zh.png": make_meme(photo[70:200, 160:290], text="自拍离太近，字幕只好住楼下 (≧∇≦)ノ😂"),
    }
    try:
        from skimage import data

        cat = data.chelsea()[:, :, ::-1].copy()  # RGB -> BGR
        memes["chelsea_en_text.png"] = make_meme(cat, text="me when someone says the weekend is over 😾", lang="en")
    except ImportError:
        print("scikit-image not installed: skipping chelsea_en_text.png")
    rows = []
    for name, meme in memes.items():
        meme.save(HERE / name)
        rows.append({"file": name, **{k: meme.to_dict()[k] for k in ("caption", "emotion", "style", "placement")}})
    gif = make_gif(photo, lang="zh", style="dramatic", seed=3, max_side=320)
    gif.save(HERE / "astronaut_zh_punch.gif")
    rows.append({"file": "astronaut_zh_punch.gif", "caption": gif.caption, "emotion": gif.emotion,
                 "style": gif.meme.style if gif.meme else None, "placement": "zoom punch + caption reveal",
                 "frames": len(gif.frames), "duration_ms": gif.total_ms})
    (HERE / "gallery.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for row in rows:
        print(f"{row['file']}: {row['caption']}")


if __name__ == "__main__":
    main()
