# What a request needs of a model: a context window for its input, tool use,
# image input. A model that states it lacks one is never sent the request; a
# fact the config does not state is not checked (the provider answers for it).
package router

request_input_tokens := request.input_tokens if is_number(request.input_tokens)

denial contains [id, msg] if {
	some id, p in providers
	serves_requested_model(p)
	window := model_facts(p).context_window
	is_number(window)
	request_input_tokens > window
	msg := concat("", [
		"capability: the request needs about ", number_text(request_input_tokens),
		" input tokens; ", model_label(id, p), " has a context window of ", number_text(window),
	])
}

denial contains [id, msg] if {
	request.has_tools == true
	some id, p in providers
	serves_requested_model(p)
	model_facts(p).tools == false
	msg := concat("", ["capability: the request uses tools; ", model_label(id, p), " does not support tool use"])
}

denial contains [id, msg] if {
	request.has_images == true
	some id, p in providers
	serves_requested_model(p)
	model_facts(p).vision == false
	msg := concat("", ["capability: the request has images; ", model_label(id, p), " does not accept images"])
}
