package main

import (
	"fmt"
	"strings"
)

const mainUsage = `iotdm is a self-hosted AWS IoT Core compatible server.

Usage:
  iotdm serve [flags]    run the server
  iotdm up [flags]       serve, with the IoTDeviceManagementStack deployed
                         (--simulate N adds simulated devices)
  iotdm env [flags]      print shell commands that point the AWS CLI and SDKs
                         at the server: eval "$(iotdm env)"
  iotdm stack ...        deploy, diff and destroy CloudFormation stacks
  iotdm provision ...    register devices in bulk (things, certificates, files)
  iotdm simulate ...     run simulated devices over MQTT
  iotdm version          print the version
  iotdm help [command]   show help for a command

Run 'iotdm help serve' for the flags, environment variables and config file.
`

// commandUsage returns the help of a command, "" for an unknown one.
func commandUsage(cmd string) string {
	var b strings.Builder
	switch cmd {
	case "serve", "up":
		b.WriteString("Usage: iotdm serve [flags]\n\n" +
			"Runs the server: the AWS API endpoint (SigV4, authenticated against the admin\n" +
			"key in DATA-DIR/credentials, created on first start), GET /healthz and the\n" +
			"MQTT broker devices connect to with their certificates (mutual TLS).\n" +
			"SIGINT or SIGTERM shut it down gracefully.\n\n")
	case "env":
		b.WriteString("Usage: iotdm env [flags]\n\n" +
			"Prints shell commands that make the AWS CLI and SDKs use the server of the\n" +
			"data directory: eval \"$(iotdm env --data-dir DIR)\". The endpoint is the\n" +
			"running server's (from DATA-DIR/server.json), else the configured address.\n\n")
	case "provision":
		return provisionUsage
	case "simulate":
		return simulateUsage
	case "stack":
		return stackUsage
	case "version":
		return "Usage: iotdm version\n\nPrints the version of iotdm.\n"
	case "help":
		return "Usage: iotdm help [command]\n\nShows help for a command.\n"
	default:
		return ""
	}
	b.WriteString("Flags (each also read from its environment variable and the config file;\n" +
		"a flag wins over the environment, which wins over the file):\n")
	for _, o := range options() {
		def := ""
		if o.def != "" {
			def = fmt.Sprintf(" (default %s)", o.def)
		}
		fmt.Fprintf(&b, "  --%s %s\n        %s%s\n        env %s\n", o.name, o.arg, o.usage, def, o.env)
	}
	b.WriteString("\nThe admin key may be given as IOTDM_ACCESS_KEY_ID and IOTDM_SECRET_ACCESS_KEY.\n" +
		"See docs/configuration.md for the config file format and the data directory.\n")
	return b.String()
}
