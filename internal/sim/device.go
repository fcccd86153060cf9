// Package sim provisions device fleets in bulk and simulates them. It uses
// only public interfaces: the AWS IoT control-plane API through the AWS SDK
// for Go v2 and MQTT over mutual TLS, so it works against AWS IoT Core as
// well as against iotdm.
//
// A provisioned device is a folder named after its thing, the layout the AWS
// IoT console's "connect a device" wizard and the AWS IoT Device SDK samples
// use:
//
//	DIR/{thing}/certificate.pem.crt  the device certificate
//	DIR/{thing}/private.pem.key      its private key (mode 0600)
//	DIR/{thing}/AmazonRootCA1.pem    the server's trust anchor (iotdm's CA, or Amazon Root CA 1)
//	DIR/{thing}/config.json          thing name, endpoint, port, client id, topics
//
// config.json is written last, so a folder with it is complete.
package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Files of a device folder.
const (
	CertificateFile = "certificate.pem.crt"
	PrivateKeyFile  = "private.pem.key"
	RootCAFile      = "AmazonRootCA1.pem"
	ConfigFile      = "config.json"
)

// DefaultPort is the MQTT over TLS port of AWS IoT Core (and iotdm's
// default).
const DefaultPort = 8883

// DeviceConfig is a device's config.json.
type DeviceConfig struct {
	ThingName string `json:"thingName"`
	ClientID  string `json:"clientId"`
	// Endpoint is the host of the MQTT endpoint (DescribeEndpoint
	// iot:Data-ATS), Port its port.
	Endpoint string `json:"endpoint"`
	Port     int    `json:"port"`

	CertificateID  string `json:"certificateId,omitempty"`
	CertificateARN string `json:"certificateArn,omitempty"`
	Certificate    string `json:"certificate"`      // file name in the folder
	PrivateKey     string `json:"privateKey"`       // file name in the folder
	RootCA         string `json:"rootCA,omitempty"` // file name in the folder; empty: the system's roots

	// Attributes are the thing's attributes as provisioned; the simulator
	// starts from attributes.firmware.
	Attributes map[string]string `json:"attributes,omitempty"`
	Topics     Topics            `json:"topics"`
}

// Topics are the MQTT topics a device uses; the seed stack's device policy
// allows them (devices/{thing}/* and $aws/things/{thing}/shadow/*).
type Topics struct {
	Telemetry      string `json:"telemetry"`
	ShadowUpdate   string `json:"shadowUpdate"`
	ShadowDelta    string `json:"shadowUpdateDelta"`
	ShadowRejected string `json:"shadowUpdateRejected"`
	ShadowGet      string `json:"shadowGet"`
	ShadowGetOK    string `json:"shadowGetAccepted"`
	ShadowGetError string `json:"shadowGetRejected"`
}

// TopicsFor returns the topics of a thing.
func TopicsFor(thing string) Topics {
	shadow := "$aws/things/" + thing + "/shadow/"
	return Topics{
		Telemetry:      "devices/" + thing + "/telemetry",
		ShadowUpdate:   shadow + "update",
		ShadowDelta:    shadow + "update/delta",
		ShadowRejected: shadow + "update/rejected",
		ShadowGet:      shadow + "get",
		ShadowGetOK:    shadow + "get/accepted",
		ShadowGetError: shadow + "get/rejected",
	}
}

// SplitEndpoint splits a DescribeEndpoint address into host and port: AWS
// addresses carry no port (8883 is implied); iotdm's carry one unless it is
// 8883.
func SplitEndpoint(addr string) (string, int, error) {
	if addr == "" {
		return "", 0, errors.New("empty endpoint address")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: a bare host name or IPv4 address, or an IPv6 one.
		return strings.Trim(addr, "[]"), DefaultPort, nil
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", 0, fmt.Errorf("endpoint %q: bad port", addr)
	}
	return host, p, nil
}

// Addr is the host:port to dial.
func (c *DeviceConfig) Addr() string {
	return net.JoinHostPort(c.Endpoint, strconv.Itoa(c.Port))
}

// Device is a provisioned device as read from its folder.
type Device struct {
	Dir    string
	Config DeviceConfig
	CertPEM,
	KeyPEM,
	CAPEM []byte // CAPEM is nil when the folder names no root CA
}

// ReadDevice reads the device folder dir.
func ReadDevice(dir string) (*Device, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	d := &Device{Dir: dir}
	if err := json.Unmarshal(b, &d.Config); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	c := &d.Config
	if c.ThingName == "" || c.Endpoint == "" || c.Port == 0 {
		return nil, fmt.Errorf("%s: thingName, endpoint and port are required", filepath.Join(dir, ConfigFile))
	}
	if c.ClientID == "" {
		c.ClientID = c.ThingName
	}
	if c.Topics == (Topics{}) {
		c.Topics = TopicsFor(c.ThingName)
	}
	read := func(name, def string) ([]byte, error) {
		if name == "" {
			name = def
		}
		if filepath.Base(name) != name {
			return nil, fmt.Errorf("%s: file name %q is not in the folder", filepath.Join(dir, ConfigFile), name)
		}
		return os.ReadFile(filepath.Join(dir, name))
	}
	if d.CertPEM, err = read(c.Certificate, CertificateFile); err != nil {
		return nil, err
	}
	if d.KeyPEM, err = read(c.PrivateKey, PrivateKeyFile); err != nil {
		return nil, err
	}
	if c.RootCA != "" {
		if d.CAPEM, err = read(c.RootCA, ""); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ReadDevices reads every complete device folder under dir (those with a
// config.json), in name order. With names, it reads those folders only,
// and a missing one is an error.
func ReadDevices(dir string, names ...string) ([]*Device, error) {
	if len(names) == 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, e.Name(), ConfigFile)); err == nil {
				names = append(names, e.Name())
			}
		}
		slices.Sort(names)
	}
	out := make([]*Device, 0, len(names))
	for _, n := range names {
		d, err := ReadDevice(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("device %s: incomplete or missing folder in %s: %w", n, dir, err)
		}
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", n, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// complete reports whether the device folder dir has its config,
// certificate and key.
func complete(dir string) bool {
	for _, f := range []string{ConfigFile, CertificateFile, PrivateKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, renamed over path, so a reader (or a resumed run) sees the
// whole file or none.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
