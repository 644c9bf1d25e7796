"""Expression transfer (face -> meme face) with MediaPipe's face mesh, OpenCV warps and
Poisson blending. See :mod:`edgekit.transfer.api` and ``docs/transfer.md``.

>>> from edgekit.transfer import transfer_expression
>>> result = transfer_expression("smiling.jpg", "face.jpg")   # TransferResult; result.image is BGR
"""
from .api import ExpressionTransfer, TransferResult, exaggerate_expression, transfer_expression

__all__ = ["ExpressionTransfer", "TransferResult", "exaggerate_expression", "transfer_expression"]
