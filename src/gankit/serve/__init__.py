"""`gankit serve`: a local web app to browse runs, sample, complete, attack and translate."""

from gankit.serve.app import create_app, decode_image

__all__ = ["create_app", "decode_image"]
