# Operations: what a request asks a provider to do. `chat` and `responses`
# generate text from a conversation; `embeddings` turn each input into a
# vector. Retrieval pipelines embed whole documents, in bulk, to build a search
# index: the most PII-dense traffic there is, and what a provider keeps of it
# is a copy of the corpus. So embeddings carry rules of their own.
package router

known_operations := {"chat", "responses", "embeddings"}

# A request that names no operation is a chat: every request was one before
# the sidecar served other operations.
default operation := "chat"

operation := request.operation if is_string(request.operation)

embeddings if operation == "embeddings"

# An operation this policy does not know may need rules nobody has written
# yet: fail closed, and name it so the fix is obvious.
denial contains [id, msg] if {
	not operation in known_operations
	some id, _ in providers
	msg := concat("", ["operation: ", operation, " is not known to the policy, so no provider can be shown to meet its rules"])
}

# A tenant may list the operations it uses; any other is refused for it.
denial contains [id, msg] if {
	is_array(tenant.operations)
	not operation in tenant.operations
	some id, _ in providers
	msg := concat("", ["tenant: ", input.tenant, " does not allow ", operation])
}

# Health records embedded for search: redaction replaces the structured
# identifiers, but names, diagnoses and free text remain, and an embedding
# service that keeps its inputs (for abuse monitoring, say) holds a copy of the
# whole corpus. phi is embedded only where nothing is kept.
denial contains [id, "privacy: phi may be embedded only by a self-hosted provider or one with zero data retention"] if {
	embeddings
	"phi" in effective_tags
	some id, p in providers
	not self_hosted(p)
	not zero_data_retention(p)
}
