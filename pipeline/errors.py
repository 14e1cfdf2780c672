"""Domain exceptions of the document pipeline.

Hierarchy (every exception carries a stable ``code`` and keyword-only context)::

    DocgraphError
    ├── InvalidDocumentError        the upload cannot be used as a document
    │   ├── EmptyDocumentError      zero bytes                          (HTTP 400)
    │   ├── NotAPdfError            the bytes are not a PDF             (HTTP 415)
    │   ├── CorruptDocumentError    PyMuPDF cannot open / parse it      (HTTP 400)
    │   ├── DocumentTooLargeError   bytes or page count over the limit  (HTTP 413)
    │   │   └── TooManyPagesError   over the sync endpoint's page count: use /v1/jobs (HTTP 413)
    │   ├── PasswordRequiredError   encrypted, no or wrong password     (HTTP 422)
    │   └── UnusableDocumentError   opens, but has nothing to convert   (HTTP 422)
    ├── PageError                   one page failed; the document goes on
    │   ├── PageRenderError         render refused or failed (pixel budget, decoder)
    │   ├── ModelError              a model call failed (layout or OCR)
    │   ├── StepTimeoutError        a step ran past its deadline (its worker process is replaced)
    │   ├── PdfWorkerCrashedError   the PyMuPDF worker process died under the call
    │   └── RenderBudgetBusyError   no room in the replica's render budget within the queue bound
    ├── PdfWorkersBusyError         no PyMuPDF worker was free within the queue bound (HTTP 503)
    ├── DocumentTimeoutError        the whole document ran past its deadline (HTTP 504)
    └── ModelUnavailableError       a model cannot be loaded or reached   (HTTP 503)

``serve/errors.py`` maps these to HTTP once; nothing else turns them into status codes.
"""

from __future__ import annotations


class DocgraphError(Exception):
    """Base of every error the pipeline raises on purpose."""

    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.context: dict[str, object] = context

    def __reduce__(self) -> tuple[object, ...]:
        # Keep type, code and context when Ray pickles the exception across a handle boundary.
        return (_rebuild, (type(self), self.message, self.code, self.context))


def _rebuild(cls: type[DocgraphError], message: str, code: str, context: dict[str, object]) -> DocgraphError:
    return cls(message, code=code, **context)


class InvalidDocumentError(DocgraphError):
    code = "invalid_document"


class EmptyDocumentError(InvalidDocumentError):
    code = "empty_file"


class NotAPdfError(InvalidDocumentError):
    code = "not_a_pdf"


class CorruptDocumentError(InvalidDocumentError):
    code = "corrupt_pdf"


class DocumentTooLargeError(InvalidDocumentError):
    code = "too_large"

    @classmethod
    def pages(cls, count: int, limit: int, what: str = "the PDF has", unit: str = "pages") -> DocumentTooLargeError:
        """More pages (an image's frames) than ``limits.max_pages``."""
        return cls(
            f"{what} {count} {unit}; the limit is {limit} pages", code="too_many_pages", page_count=count, limit=limit
        )


class TooManyPagesError(DocumentTooLargeError):
    """More pages than a synchronous conversion takes: the message points to the async jobs API."""

    code = "use_jobs"


class PasswordRequiredError(InvalidDocumentError):
    code = "password_required"


class UnusableDocumentError(InvalidDocumentError):
    code = "unusable_document"


class PageError(DocgraphError):
    code = "page_failed"


class PageRenderError(PageError):
    code = "render_failed"


class ModelError(PageError):
    code = "model_failed"


class StepTimeoutError(PageError):
    code = "step_timeout"


class PdfWorkerCrashedError(PageError):
    """The PyMuPDF worker process died under the call (a MuPDF crash on this document)."""

    code = "pdf_reader_crashed"


class RenderBudgetBusyError(PageError):
    """The replica's bytes of rendered pages in flight stayed spent past the queue bound: this page waited
    too long to be rendered (it fails; the document goes on)."""

    code = "render_budget_busy"


class PdfWorkersBusyError(DocgraphError):
    """Every PyMuPDF worker stayed busy past the queue bound: the replica is overloaded (HTTP 503)."""

    code = "pdf_workers_busy"


class DocumentTimeoutError(DocgraphError):
    code = "document_timeout"


class ModelUnavailableError(DocgraphError):
    code = "model_unavailable"
