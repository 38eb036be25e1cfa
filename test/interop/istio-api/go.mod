module meshcd.test/interop/istio-api

go 1.24.0

require (
	istio.io/api v1.32.0
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.2 // indirect
