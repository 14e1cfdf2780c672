"""The Serve names of the application's deployments: the one place they are spelled (Serve's options, the batch's
handles, the benchmarks' process roles). Importing this module imports nothing else."""

from __future__ import annotations

from typing import Final

INGRESS_DEPLOYMENT: Final = "DocumentIngress"
LAYOUT_DEPLOYMENT: Final = "LayoutDeployment"
OCR_DEPLOYMENT: Final = "OcrDeployment"
