// Package iotdm is the vocabulary of the iotdm platform: the domain types that
// mirror AWS IoT's shapes, the service interfaces the wire adapters call, the
// Store contract with its change feed, and the Error type whose codes map one
// to one onto AWS exception names.
//
// It imports no other package of the project. Adapters (awsapi, broker,
// console, stack) and stores (sqlite, postgres) meet here and are wired
// together in cmd/iotdm.
package iotdm
