"""The request pipeline, free of any HTTP framework."""

from policy_engine.pipeline._embeddings import EmbeddingPipeline
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.pipeline._pipeline import (
    OUTCOMES,
    JsonReply,
    Pipeline,
    Reply,
    StreamReply,
)
from policy_engine.pipeline._records import AuditSink

__all__ = [
    "OUTCOMES",
    "AuditSink",
    "EmbeddingPipeline",
    "JsonReply",
    "Pipeline",
    "Reply",
    "RequestOutcome",
    "StreamReply",
]
