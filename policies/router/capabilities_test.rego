package router_test

import data.router

decide_needs(needs) := d if {
	d := router.decision with input as model_request("open", "smart", needs)
		with data.tenants as model_tenants
}

test_deny_input_beyond_the_context_window if {
	d := decide_needs({"input_tokens": 9216})
	d.denied.llama == ["capability: the request needs about 9216 input tokens; llama-3-8b on llama has a context window of 8192"]
	"openai" in d.allowed
}

test_allow_input_that_fits_the_context_window if {
	"llama" in decide_needs({"input_tokens": 8192}).allowed
}

test_allow_unstated_context_window_is_not_checked if {
	"azure-eu" in decide_needs({"input_tokens": 10000000}).allowed
}

test_deny_tools_to_a_model_without_tool_use if {
	d := decide_needs({"has_tools": true})
	d.denied.llama == ["capability: the request uses tools; llama-3-8b on llama does not support tool use"]
	"claude" in d.allowed
	"mystery" in d.allowed
}

test_deny_images_to_a_model_without_vision if {
	d := decide_needs({"has_images": true})
	d.denied.llama == ["capability: the request has images; llama-3-8b on llama does not accept images"]
	"openai" in d.allowed
}

test_allow_a_request_without_needs_reaches_every_model if {
	count(decide_needs({"has_tools": false, "has_images": false, "input_tokens": 10}).allowed) == count(model_catalog)
}

test_deny_every_need_is_reported if {
	d := decide_needs({"has_tools": true, "has_images": true, "input_tokens": 100000})
	count(d.denied.llama) == 3
}

test_allow_needs_that_are_not_literally_true_are_not_needs if {
	"llama" in decide_needs({"has_tools": "yes", "has_images": 1, "input_tokens": "huge"}).allowed
}
