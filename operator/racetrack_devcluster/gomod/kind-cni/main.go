// Command kind-cni is the pod network of a kind node made here, in place of kindnetd (whose
// module the Go proxy does not serve). It runs as a host-network DaemonSet pod on every
// node and, every few seconds:
//
//   - writes the node's CNI configuration (ptp + host-local over the node's spec.podCIDR,
//     masquerading what leaves the pod range, and portmap), so the kubelet's node becomes
//     Ready and pods get addresses;
//   - routes every other node's podCIDR through that node's InternalIP, so pods on
//     different nodes reach each other over the kind network.
//
// It reads Nodes with the pod's service account; it needs nothing else from the API.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const (
	serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"
	confName       = "10-kind-cni.conflist"
	interval       = 5 * time.Second
)

type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (n node) internalIP() string {
	for _, address := range n.Status.Addresses {
		if address.Type == "InternalIP" && net.ParseIP(address.Address).To4() != nil {
			return address.Address
		}
	}
	return ""
}

type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newClient() (*apiClient, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not in a pod?")
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccount, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in the service account's ca.crt")
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &apiClient{
		base: "https://" + net.JoinHostPort(host, port),
		http: &http.Client{Transport: transport, Timeout: 10 * time.Second},
	}, nil
}

func (c *apiClient) nodes() ([]node, error) {
	// The token is re-read every time: the kubelet rotates it.
	token, err := os.ReadFile(filepath.Join(serviceAccount, "token"))
	if err != nil {
		return nil, err
	}
	request, err := http.NewRequest(http.MethodGet, c.base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	request.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	response, err := c.http.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes answered %s", response.Status)
	}
	var list struct {
		Items []node `json:"items"`
	}
	if err := json.NewDecoder(response.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// conflist is the CNI configuration for a node whose pods take addresses from podCIDR.
func conflist(podCIDR string) []byte {
	document := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kind-cni",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": true,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, _ := json.MarshalIndent(document, "", "  ")
	return append(data, '\n')
}

// writeIfChanged replaces path with data atomically, only when it differs.
func writeIfChanged(path string, data []byte) (bool, error) {
	if current, err := os.ReadFile(path); err == nil && bytes.Equal(current, data) {
		return false, nil
	}
	temporary := path + ".tmp"
	if err := os.WriteFile(temporary, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(temporary, path)
}

func sync(client *apiClient, self, confDir string, routed map[string]string) error {
	nodes, err := client.nodes()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			continue
		}
		if n.Metadata.Name == self {
			changed, err := writeIfChanged(filepath.Join(confDir, confName), conflist(n.Spec.PodCIDR))
			if err != nil {
				return err
			}
			if changed {
				log.Printf("Wrote the CNI configuration for pod range %s", n.Spec.PodCIDR)
			}
			continue
		}
		gateway := n.internalIP()
		if gateway == "" || routed[n.Spec.PodCIDR] == gateway {
			continue
		}
		output, err := exec.Command("ip", "route", "replace", n.Spec.PodCIDR, "via", gateway).CombinedOutput()
		if err != nil {
			return fmt.Errorf("routing %s via %s: %v: %s", n.Spec.PodCIDR, gateway, err, output)
		}
		routed[n.Spec.PodCIDR] = gateway
		log.Printf("Routed pod range %s of node %s via %s", n.Spec.PodCIDR, n.Metadata.Name, gateway)
	}
	return nil
}

func main() {
	self := os.Getenv("NODE_NAME")
	if self == "" {
		log.Fatal("NODE_NAME is not set (give it the pod's spec.nodeName)")
	}
	confDir := os.Getenv("CNI_CONF_DIR")
	if confDir == "" {
		confDir = "/etc/cni/net.d"
	}
	client, err := newClient()
	if err != nil {
		log.Fatal(err)
	}
	routed := map[string]string{}
	for {
		if err := sync(client, self, confDir, routed); err != nil {
			log.Printf("Could not sync the pod network (retrying in %s): %v", interval, err)
		}
		time.Sleep(interval)
	}
}
