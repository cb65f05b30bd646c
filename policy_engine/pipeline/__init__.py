"""The request pipeline, free of any HTTP framework."""

from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.pipeline._pipeline import (
    OUTCOMES,
    AuditSink,
    JsonReply,
    Pipeline,
    Reply,
    StreamReply,
)

__all__ = [
    "OUTCOMES",
    "AuditSink",
    "JsonReply",
    "Pipeline",
    "Reply",
    "RequestOutcome",
    "StreamReply",
]
