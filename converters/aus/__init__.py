"""Action units (#22): calibration constants (``calibrate``) and the validation report (``validate``)."""
