package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/iotdm/iotdm/internal/pki/cafile"
	"github.com/iotdm/iotdm/stacks"
)

// deploySeed deploys the embedded IoTDeviceManagementStack through the
// server's own CloudFormation API, as iotdm stack deploy would, printing
// its progress to w. An unchanged stack is left alone.
func (s *server) deploySeed(ctx context.Context, w io.Writer) error {
	client := cfn.NewFromConfig(aws.Config{Region: s.cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.key.ID, s.key.Secret, "")},
		func(o *cfn.Options) { o.BaseEndpoint = aws.String(s.URL()) })
	c := &stackClient{api: client, f: &stackFlags{name: stacks.SeedName, body: string(stacks.Seed),
		approval: "never", stdout: w, stderr: w, poll: 100 * time.Millisecond}}
	return c.deploy(ctx)
}

// printUp tells the user where everything is.
func printUp(w io.Writer, s *server) {
	dir := s.DataDir()
	fmt.Fprintf(w, "\niotdm is up with %s deployed.\n", stacks.SeedName)
	fmt.Fprintf(w, "  AWS API endpoint   %s (every service: iot, iot-data, cloudformation, logs, ...)\n", s.URL())
	fmt.Fprintf(w, "  MQTT endpoint      %s (mutual TLS; devices trust %s)\n", s.broker.Addr(), filepath.Join(dir, cafile.CertFile))
	fmt.Fprintf(w, "  Credentials        %s (profile default)\n", filepath.Join(dir, credentialsFileName))
	fmt.Fprintf(w, "  Health             %s/healthz\n", s.URL())
	fmt.Fprintf(w, "\nTo use it from a shell:\n  eval \"$(iotdm env --data-dir %s)\"\n", shellQuote(dir))
	fmt.Fprintf(w, "then, for example:\n  aws cloudformation describe-stacks --stack-name %s\n", stacks.SeedName)
}
