// Command k8syaml reads YAML the way Kubernetes does (sigs.k8s.io/yaml over
// go-yaml, the reader behind `kubectl apply` and the API server), as the
// oracle for meshcd's own YAML reading. Input on stdin: a JSON array of YAML
// documents. Output: a JSON array with, per document, {"json": <value>} or
// {"error": "<message>"}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

type result struct {
	JSON  json.RawMessage `json:"json,omitempty"`
	Error string          `json:"error,omitempty"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var docs []string
	if err := json.Unmarshal(in, &docs); err != nil {
		fmt.Fprintln(os.Stderr, "stdin must be a JSON array of strings:", err)
		os.Exit(2)
	}
	out := make([]result, len(docs))
	for i, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			out[i].Error = err.Error()
		} else {
			out[i].JSON = j
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
