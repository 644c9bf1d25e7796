"""BatchWorker checks its meme options with edgekit.validate when it is made (before any photo):
each error names the option and the bad value, says what is valid and what to pass."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.batch import BatchWorker
from edgekit.errors import ConfigError


@pytest.mark.parametrize("kwargs, message", [
    ({"styles": 0}, "styles=0: must be None (one meme per photo) or an integer in [1, 8]. one meme per style, "
                    "at most 8"),
    ({"styles": True}, "styles=True: must be None (one meme per photo) or an integer in [1, 8]"),
    ({"seed": "x"}, "seed='x': must be None (fresh randomness) or an integer. pass e.g. seed=42 for reproducible "
                    "captions"),
    ({"seed": 1.5}, "seed=1.5: must be None (fresh randomness) or an integer"),
    ({"max_pixels": 0}, "max_pixels=0: must be None (only the library's own cap) or an integer >= 1. the most pixels "
                        "(width x height) a photo may have"),
    ({"face": -1}, "face=-1: must be None (the largest face) or an integer >= 0. faces are numbered left to right "
                   "from 0; leave it out to use the largest face"),
    ({"face": True}, "face=True: must be None (the largest face) or an integer >= 0"),
])
def test_bad_meme_options_name_the_option_the_value_and_what_to_pass(kwargs, message):
    with pytest.raises(ConfigError) as err:
        BatchWorker("meme", **kwargs)
    assert str(err.value).startswith(message)


def test_numpy_integers_are_accepted_and_the_config_stays_json():
    worker = BatchWorker("meme", styles=np.int64(2), seed=np.int32(-3), face=np.int64(1), max_pixels=np.int64(10**6))
    assert {k: worker.config[k] for k in ("styles", "seed", "face", "max_pixels")} == \
        {"styles": 2, "seed": -3, "face": 1, "max_pixels": 10**6}
    json.dumps(worker.config)  # what the REST server's job store writes
