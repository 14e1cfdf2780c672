"""docling-serve's v1 API on docgraph's ingress: the wire models are docling's own (``docling.datamodel.service``,
from docling-slim); tasks are docgraph jobs; documents are DoclingDocuments built with docling-core's API."""
