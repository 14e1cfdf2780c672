"""Async jobs: conversions that outlive the request, with per-page progress, in a store every ingress shares."""
