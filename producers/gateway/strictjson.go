package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// checkKeys walks raw JSON against the Go type it will be decoded into and returns the first
// key that encoding/json would accept but a strict reader must not: a key given twice in one
// object (encoding/json keeps the last, so two readers of one body can disagree about it), also
// when the two differ only in case, and a key that matches a field only case-insensitively
// (encoding/json accepts "OSP_TENANT_ID" for "osp_tenant_id"). Unknown keys and malformed JSON
// are left to the decoder, which reports them. The walk goes as deep as the value nests.
func checkKeys(raw []byte, t reflect.Type) *FieldError {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	fe, _ := walkValue(dec, t, "")
	return fe
}

// walkValue consumes one JSON value. ok is false when the JSON is malformed (the decoder will say
// so).
func walkValue(dec *json.Decoder, t reflect.Type, path string) (*FieldError, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, false
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil, true
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if fe, ok := walkValue(dec, elem, path); fe != nil || !ok {
				return fe, ok
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, false
			}
			key, _ := tok.(string)
			at := key
			if path != "" {
				at = path + "/" + key
			}
			folded := strings.ToLower(key)
			if seen[folded] {
				return &FieldError{Field: at, Detail: "duplicate key: each key may appear once per object (keys are case-sensitive)"}, true
			}
			seen[folded] = true
			vt := elem
			if fields != nil {
				ft, exact := fields[key]
				if !exact {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return &FieldError{Field: at, Detail: `unknown key; keys are case-sensitive: did you mean "` + name + `"?`}, true
						}
					}
				}
				vt = ft
			}
			if fe, ok := walkValue(dec, vt, at); fe != nil || !ok {
				return fe, ok
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return nil, false
	}
	return nil, true
}

// jsonFields maps a struct's JSON keys to their types, as encoding/json names them (embedded
// structs flattened, "-" skipped).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
