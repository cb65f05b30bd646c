# Model facts: what the provider's model for the requested alias can do, and the
# preference for the same model on another provider.
#
# The sidecar sends, per provider, `model_attributes` keyed by model alias: the
# model's identity (`model`, the same on every provider serving that model) and
# the facts stated in the config (quality, context_window, tools, vision, ...).
package router

requested_model := request.model if is_string(request.model)

serves_requested_model(p) if requested_model in p.models

# The facts about provider p's model for the requested alias; undefined when the
# config states none.
model_facts(p) := f if {
	f := p.model_attributes[requested_model]
	is_object(f)
}

model_identity(p) := model_facts(p).model if is_string(model_facts(p).model)

# "gpt-4o on openai-us", or "openai-us's model for smart" when its name is unknown.
model_label(id, p) := concat("", [model_identity(p), " on ", id]) if {
	model_identity(p)
} else := concat("", [id, "'s model for ", requested_model]) if {
	requested_model
} else := concat("", [id, "'s model"])

# Numbers in reasons, to one decimal: integer arithmetic only, so OPA and regopy
# write the same text (their sprintf and json.marshal format floats differently).
tenths(x) := round(x * 10)

whole_part(x) := floor(tenths(x) / 10)

number_text(x) := format_int(whole_part(x), 10) if {
	tenths(x) == whole_part(x) * 10
} else := concat("", [format_int(whole_part(x), 10), ".", format_int(tenths(x) - (whole_part(x) * 10), 10)])

# The tenant's preferred providers, each followed by the other allowed providers
# that serve the same model: after a failure the router tries the same model
# elsewhere before a different one, so the answer stays what the user expects.
model_identities := {id: model_identity(p) |
	some id in allowed_set
	p := providers[id]
	serves_requested_model(p)
}

same_model := {id: sort([other |
	some other in object.keys(model_identities)
	other != id
	model_identities[other] == identity
]) |
	some id, identity in model_identities
}

preference_groups := [group |
	some pid in tenant_preference_allowed
	group := array.concat([pid], object.get(same_model, pid, []))
]

preference_with_same_model := [id |
	some group in preference_groups
	some id in group
]

# A provider keeps its first position, so the router never tries one twice.
preference := [id |
	some i
	id := preference_with_same_model[i]
	not id in array.slice(preference_with_same_model, 0, i)
]
