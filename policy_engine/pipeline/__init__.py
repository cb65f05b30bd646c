"""The request pipeline, free of any HTTP framework."""

from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.pipeline._pipeline import JsonReply, Pipeline, Reply, StreamReply

__all__ = ["JsonReply", "Pipeline", "Reply", "RequestOutcome", "StreamReply"]
