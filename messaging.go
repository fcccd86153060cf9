package iotdm

import "context"

// Messaging is the message part of the IoT data plane (iot-data): publishing
// into the MQTT broker over HTTPS and reading its retained messages.
type Messaging interface {
	Publish(ctx context.Context, in *PublishInput) (*Empty, error)
	GetRetainedMessage(ctx context.Context, in *GetRetainedMessageInput) (*GetRetainedMessageOutput, error)
	ListRetainedMessages(ctx context.Context, in *ListRetainedMessagesInput) (*ListRetainedMessagesOutput, error)
}

// PublishInput is iot-data's Publish: POST /topics/{topic} with the raw
// payload as the body and the MQTT 5 properties in the query string and
// headers (user properties and correlation data base64-encoded, as the SDKs
// send them).
type PublishInput struct {
	Topic                  string `json:"-" uri:"topic"`
	QoS                    int    `json:"-" query:"qos"`
	Retain                 bool   `json:"-" query:"retain"`
	Payload                []byte `json:"-" payload:"true"`
	UserProperties         string `json:"-" header:"x-amz-mqtt5-user-properties"`
	PayloadFormatIndicator string `json:"-" header:"x-amz-mqtt5-payload-format-indicator"`
	ContentType            string `json:"-" query:"contentType"`
	ResponseTopic          string `json:"-" query:"responseTopic"`
	CorrelationData        string `json:"-" header:"x-amz-mqtt5-correlation-data"`
	MessageExpiry          int64  `json:"-" query:"messageExpiry"`
}

// GetRetainedMessageInput is iot-data's GetRetainedMessage.
type GetRetainedMessageInput struct {
	Topic string `json:"-" uri:"topic"`
}

// GetRetainedMessageOutput is one retained message; lastModifiedTime is in
// epoch milliseconds.
type GetRetainedMessageOutput struct {
	Topic            string `json:"topic"`
	Payload          []byte `json:"payload"`
	QoS              int64  `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
	UserProperties   []byte `json:"userProperties,omitempty"`
}

// ListRetainedMessagesInput is iot-data's ListRetainedMessages.
type ListRetainedMessagesInput struct {
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

// ListRetainedMessagesOutput lists retained messages without payloads.
type ListRetainedMessagesOutput struct {
	RetainedTopics []RetainedMessageSummary `json:"retainedTopics"`
	NextToken      string                   `json:"nextToken,omitempty"`
}

// RetainedMessageSummary is AWS's RetainedMessageSummary.
type RetainedMessageSummary struct {
	Topic            string `json:"topic"`
	PayloadSize      int64  `json:"payloadSize"`
	QoS              int64  `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
}
