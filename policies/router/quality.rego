# Quality floors per task class.
#
# A request's task class (X-Task-Class) and the tenant's default class both
# apply, with the tenant's own `quality_floor`: the highest floor wins, so a
# header can raise the floor but never lower it. A model whose quality score is
# below the floor, or unknown, is denied for the request.
package router

default task_classes := {}

task_classes := data.task_classes if is_object(data.task_classes)

task_class_name(x) := lower(trim_space(x)) if {
	is_string(x)
	trim_space(x) != ""
}

tenant_task_classes := {c |
	some raw in [object.get(tenant, "task_class", null)]
	c := task_class_name(raw)
}

request_task_classes := {c |
	some raw in object.get(request, "task_classes", [])
	c := task_class_name(raw)
}

task_classes_in_force := tenant_task_classes | request_task_classes

known_task_class(c) if is_object(task_classes[c])

class_floor(c) := f if {
	f := task_classes[c].quality_floor
	is_number(f)
}

tenant_floor := tenant.quality_floor if is_number(tenant.quality_floor)

floors := {f |
	some c in task_classes_in_force
	f := class_floor(c)
} | {f | some f in [tenant_floor]}

quality_floor := max(floors) if count(floors) > 0

default constraint_floor := null

constraint_floor := quality_floor if not embeddings

# The class whose floor is in force: one of the request's if it ties the
# tenant's, then the first by name. Recorded with the decision (constraints).
default task_class := null

classes_at_floor := {c |
	some c in task_classes_in_force
	class_floor(c) == quality_floor
}

requested_at_floor := classes_at_floor & request_task_classes

task_class := sort([c | some c in requested_at_floor])[0] if {
	count(requested_at_floor) > 0
} else := sort([c | some c in classes_at_floor])[0] if {
	count(classes_at_floor) > 0
} else := sort([c | some c in task_classes_in_force])[0] if {
	count(task_classes_in_force) > 0
}

floor_source := concat("", ["task class ", task_class]) if {
	class_floor(task_class) == quality_floor
} else := concat("", ["tenant ", input.tenant, "'s quality floor"])

meets_floor(p) if {
	is_number(model_facts(p).quality)
	model_facts(p).quality >= quality_floor
}

denial contains [id, msg] if {
	some c in task_classes_in_force
	not known_task_class(c)
	some id, _ in providers
	msg := concat("", [
		"quality: task class ", c,
		" is not known to the policy, so no model can be shown to meet its quality floor",
	])
}

denial contains [id, msg] if {
	is_number(quality_floor)
	not embeddings
	some id, p in providers
	serves_requested_model(p)
	not meets_floor(p)
	msg := concat("", [
		"quality: ", floor_source, " needs a model scoring at least ", number_text(quality_floor),
		"; ", model_label(id, p), " ", score_text(p),
	])
}

score_text(p) := concat("", ["scores ", number_text(model_facts(p).quality)]) if {
	is_number(model_facts(p).quality)
} else := "has no quality score"
