// Command istio-api regenerates meshcd's Istio schema bundle
// (src/validate/schema/istio-crds.gen.ts) from the CustomResourceDefinitions
// that the pinned istio.io/api module ships
// (kubernetes/customresourcedefinitions.gen.yaml), read with
// sigs.k8s.io/yaml as the API server reads them. Run it with ./gen.sh.
//
// Per kind it keeps each served version's spec schema without descriptions;
// versions with identical schemas share one entry.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	// Keeps istio.io/api (and so its CRD file) pinned in go.mod; gen.sh reads
	// the CRDs from that module's folder.
	_ "istio.io/api/label"
	"sigs.k8s.io/yaml"
)

type crd struct {
	Kind string `json:"kind"`
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name       string `json:"name"`
			Served     bool   `json:"served"`
			Storage    bool   `json:"storage"`
			Deprecated bool   `json:"deprecated"`
			Schema     struct {
				OpenAPIV3Schema struct {
					Properties map[string]any `json:"properties"`
				} `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

type version struct {
	Schema     string `json:"schema"`
	Storage    bool   `json:"storage,omitempty"`
	Deprecated bool   `json:"deprecated,omitempty"`
}

type kind struct {
	Group    string             `json:"group"`
	Versions map[string]version `json:"versions"`
}

type bundle struct {
	IstioAPI string                    `json:"istioApi"`
	Kinds    map[string]kind           `json:"kinds"`
	Schemas  map[string]map[string]any `json:"schemas"`
}

// strip drops descriptions (documentation, not structure) everywhere below v.
func strip(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range t {
			if k == "description" {
				if _, isText := sub.(string); isText {
					continue
				}
			}
			out[k] = strip(sub)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, sub := range t {
			out[i] = strip(sub)
		}
		return out
	}
	return v
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: istio-api CRD_YAML ISTIO_API_VERSION")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b := bundle{IstioAPI: os.Args[2], Kinds: map[string]kind{}, Schemas: map[string]map[string]any{}}
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var c crd
		if err := yaml.UnmarshalStrict(doc, &c, yaml.DisallowUnknownFields); err != nil {
			// The CRD documents carry more than this program reads; read leniently.
			if err := yaml.Unmarshal(doc, &c); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		if c.Kind != "CustomResourceDefinition" {
			continue
		}
		k := kind{Group: c.Spec.Group, Versions: map[string]version{}}
		for _, v := range c.Spec.Versions {
			if !v.Served {
				continue
			}
			spec, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]
			if !ok {
				continue
			}
			js, _ := json.Marshal(strip(spec))
			sum := sha256.Sum256(js)
			id := strings.ToLower(c.Spec.Names.Kind) + "-" + hex.EncodeToString(sum[:4])
			var s map[string]any
			_ = json.Unmarshal(js, &s)
			b.Schemas[id] = s
			k.Versions[v.Name] = version{Schema: id, Storage: v.Storage, Deprecated: v.Deprecated}
		}
		b.Kinds[c.Spec.Names.Kind] = k
	}
	names := make([]string, 0, len(b.Kinds))
	for n := range b.Kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	out, err := json.Marshal(b) // map keys are sorted: the output is stable.
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	fmt.Fprintf(os.Stderr, "istio.io/api %s: %d kinds (%s), %d distinct spec schemas\n", os.Args[2], len(b.Kinds), strings.Join(names, ", "), len(b.Schemas))
}
