// A container runtime's side of CNI, for jnet-cni's tests: the CNI project's own libcni
// (Debian's golang-github-appc-cni-dev) reads a network configuration list and runs its
// plugins exactly as containerd, podman and Nomad do, caching results between ADD, CHECK
// and DEL.
//
// Usage: driver add|check|del|version CONFLIST CONTAINERID NETNS IFNAME CACHEDIR PLUGINDIR...
// Prints the ADD result (or the versions the first plugin supports) as JSON; on failure
// prints {"code":N,"msg":...} and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	out := map[string]interface{}{"code": 0, "msg": err.Error()}
	// libcni wraps the plugin's error object in its own message.
	var e *types.Error
	if errors.As(err, &e) {
		out["code"] = e.Code
		out["msg"] = e.Msg
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(1)
}

func main() {
	if len(os.Args) < 8 {
		fmt.Fprintln(os.Stderr, "usage: driver add|check|del|version CONFLIST CONTAINERID NETNS IFNAME CACHEDIR PLUGINDIR...")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	rt := &libcni.RuntimeConf{ContainerID: os.Args[3], NetNS: os.Args[4], IfName: os.Args[5], CacheDir: os.Args[6]}
	cni := libcni.NewCNIConfigWithCacheDir(os.Args[7:], os.Args[6], nil)
	ctx := context.Background()
	switch os.Args[1] {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			fail(err)
		}
		fmt.Println(string(b))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "version":
		info, err := cni.GetVersionInfo(ctx, list.Plugins[0].Network.Type)
		if err != nil {
			fail(err)
		}
		b, _ := json.Marshal(info.SupportedVersions())
		fmt.Println(string(b))
	default:
		fmt.Fprintln(os.Stderr, "unknown operation", os.Args[1])
		os.Exit(2)
	}
}
