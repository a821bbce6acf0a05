package registry

import (
	"fmt"

	"provgraph"
)

// checkDatasetTemplate: deferred resource keys and defined resource paths are unique.
func checkDatasetTemplate(doc map[string]any) []provgraph.FieldError {
	var errs []provgraph.FieldError
	errs = append(errs, unique(doc, "defined_resources", "path")...)
	errs = append(errs, unique(doc, "deferred_resources", "key")...)
	return errs
}

// checkWorkflowTemplate: annotation keys are unique across required and optional, and a
// dataset template appears at most once per side.
func checkWorkflowTemplate(doc map[string]any) []provgraph.FieldError {
	var errs []provgraph.FieldError
	errs = append(errs, unique(doc, "input_templates", "template_id")...)
	errs = append(errs, unique(doc, "output_templates", "template_id")...)
	ann, _ := doc["annotations"].(map[string]any)
	seen := map[string]string{}
	for _, side := range []string{"required", "optional"} {
		for i, v := range asSlice(ann[side]) {
			key, _ := v.(string)
			ptr := fmt.Sprintf("/annotations/%s/%d", side, i)
			if first, dup := seen[key]; dup {
				errs = append(errs, provgraph.FieldError{Path: ptr, Message: fmt.Sprintf("annotation key %q is already declared at %s", key, first)})
				continue
			}
			seen[key] = ptr
		}
	}
	return errs
}

func unique(doc map[string]any, list, field string) []provgraph.FieldError {
	var errs []provgraph.FieldError
	seen := map[string]int{}
	for i, item := range asSlice(doc[list]) {
		m, _ := item.(map[string]any)
		v, _ := m[field].(string)
		if first, dup := seen[v]; dup {
			errs = append(errs, provgraph.FieldError{
				Path:    fmt.Sprintf("/%s/%d/%s", list, i, field),
				Message: fmt.Sprintf("%s %q repeats /%s/%d/%s", field, v, list, first, field),
			})
			continue
		}
		seen[v] = i
	}
	return errs
}
