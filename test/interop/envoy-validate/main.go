// envoy-validate: Envoy's own validation rules as an oracle for meshcd.
//
// It reads a JSON array of {"typeUrl", "name", "value"} items from stdin
// (value: the base64 of the resource's protobuf bytes, as meshcd sends them
// in a DiscoveryResponse), decodes each with go-control-plane's generated
// types, refusing unknown fields at every depth (also inside Any), and runs
// the protoc-gen-validate ValidateAll() on the resource and on every Any it
// carries. It prints a JSON array of {"typeUrl", "name", "violations"}.
// Exit status: 0 when it could read its input (violations or not), 2 otherwise.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	// Every message type meshcd emits, directly or inside an Any, registers itself here.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/original_dst/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// The input is bounded: meshcd's largest snapshot is far below this.
const maxInput = 256 << 20

type item struct {
	TypeURL string `json:"typeUrl"`
	Name    string `json:"name"`
	Value   string `json:"value"`
}

type result struct {
	TypeURL    string   `json:"typeUrl"`
	Name       string   `json:"name"`
	Violations []string `json:"violations"`
}

type validatorAll interface{ ValidateAll() error }

// multiError is what protoc-gen-validate's ValidateAll returns: one error per violated rule.
type multiError interface{ AllErrors() []error }

func main() {
	in, err := io.ReadAll(io.LimitReader(os.Stdin, maxInput+1))
	if err != nil || len(in) > maxInput {
		fail("envoy-validate: cannot read stdin (at most %d bytes): %v", maxInput, err)
	}
	var items []item
	if err := json.Unmarshal(in, &items); err != nil {
		fail("envoy-validate: stdin is not a JSON array of {typeUrl, name, value}: %v", err)
	}
	out := make([]result, 0, len(items))
	for _, it := range items {
		out = append(out, result{TypeURL: it.TypeURL, Name: it.Name, Violations: check(it)})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail("envoy-validate: writing stdout: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func check(it item) []string {
	violations := []string{}
	raw, err := base64.StdEncoding.DecodeString(it.Value)
	if err != nil {
		return append(violations, fmt.Sprintf("value is not base64: %v", err))
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(it.TypeURL)
	if err != nil {
		return append(violations, fmt.Sprintf("type %s is not known to go-control-plane: %v", it.TypeURL, err))
	}
	m := mt.New().Interface()
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(raw, m); err != nil {
		return append(violations, fmt.Sprintf("does not decode as %s: %v", it.TypeURL, err))
	}
	validate(m, string(mt.Descriptor().FullName()), &violations)
	return violations
}

// validate runs ValidateAll on m and walks it for unknown fields and Anys.
func validate(m proto.Message, path string, out *[]string) {
	if v, ok := m.(validatorAll); ok {
		if err := v.ValidateAll(); err != nil {
			for _, e := range flatten(err) {
				*out = append(*out, fmt.Sprintf("%s: %v", path, e))
			}
		}
	}
	walk(m.ProtoReflect(), path, out)
}

func flatten(err error) []error {
	var me multiError
	if errors.As(err, &me) {
		return me.AllErrors()
	}
	return []error{err}
}

func walk(m protoreflect.Message, path string, out *[]string) {
	if unknown := m.GetUnknown(); len(unknown) > 0 {
		*out = append(*out, fmt.Sprintf("%s: unknown field(s) %v", path, fieldNumbers(unknown)))
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			*out = append(*out, fmt.Sprintf("%s: Any %s: %v", path, a.GetTypeUrl(), err))
			return
		}
		validate(inner, fmt.Sprintf("%s<%s>", path, inner.ProtoReflect().Descriptor().FullName()), out)
		return
	}
	// Range visits fields in an undefined order; sort for stable output.
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			fields = append(fields, field{fd, v})
		}
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].fd.Number() < fields[j].fd.Number() })
	for _, f := range fields {
		name := path + "." + string(f.fd.Name())
		switch {
		case f.fd.IsList():
			l := f.v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i), out)
			}
		case f.fd.IsMap():
			if f.fd.MapValue().Kind() != protoreflect.MessageKind {
				continue
			}
			f.v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				walk(v.Message(), fmt.Sprintf("%s[%v]", name, k.Interface()), out)
				return true
			})
		default:
			walk(f.v.Message(), name, out)
		}
	}
}

func fieldNumbers(b []byte) []protowire.Number {
	var nums []protowire.Number
	for len(b) > 0 {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 {
			break
		}
		nums = append(nums, num)
		b = b[n:]
	}
	return nums
}
