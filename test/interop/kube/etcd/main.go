// etcd for the Kubernetes test harness: the server of go.etcd.io/etcd at the
// version k8s.io/kubernetes pins, with etcd's own command line.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
