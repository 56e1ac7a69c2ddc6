"""Package-wide defaults that several layers read (no imports: anything may depend on this).

The default body model is named here once; every other module asks `rohm.body` for what is
body-specific (shape range, default shape, rest joints, mesh) instead of naming a model.
"""

DEFAULT_BODY = "anny"  # the free, offline body model used when a file or a call names none
