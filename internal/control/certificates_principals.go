package control

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/iotdm/iotdm"
)

// A principal of the thing-principal operations is a certificate ARN of
// this account or an Amazon Cognito identity id ("region:uuid"), which is
// accepted as is. AWS §5.3: an attachment is only an association.

var (
	// cognitoIdentityPattern is a Cognito identity id, "region:uuid".
	cognitoIdentityPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// anyCertificateARN is the certificate ARN of any account and region.
	anyCertificateARN = regexp.MustCompile(`^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:cert/[a-fA-F0-9]{64}$`)
)

// principalCertificate checks a principal and returns the id of the
// certificate it names ("" for a Cognito identity). A malformed principal
// is an InvalidRequestException; the certificate ARN of another account or
// region names nothing here (ResourceNotFoundException).
func (c *Certificates) principalCertificate(principal string) (string, error) {
	switch {
	case principal == "":
		return "", invalid("principal must not be empty")
	case cognitoIdentityPattern.MatchString(principal):
		return "", nil
	}
	if id, ok := strings.CutPrefix(principal, c.r.arn(certificateARNPrefix, "")); ok && certificateIDPattern.MatchString(id) {
		return id, nil
	}
	if anyCertificateARN.MatchString(principal) {
		return "", notFound("The principal %s does not exist", principal)
	}
	return "", invalid("Invalid principal: %s is neither a certificate ARN nor a Cognito identity id", principal)
}

// checkPrincipal checks a principal and that the certificate it names
// exists.
func (c *Certificates) checkPrincipal(ctx context.Context, tx getter, principal string) error {
	id, err := c.principalCertificate(principal)
	if err != nil || id == "" {
		return err
	}
	_, ok, err := tx.Get(ctx, iotdm.KindCertificate, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("The principal %s does not exist", principal)
	}
	return nil
}

// AttachThingPrincipal attaches a principal to a thing. Attaching it again
// with the same type changes nothing; with the other type it changes the
// attachment's type. EXCLUSIVE_THING makes the thing the principal's only
// thing: it is refused while the principal is attached to another thing,
// and a principal exclusively attached elsewhere cannot be attached to
// another thing. The model gives AttachThingPrincipal no error but
// InvalidRequestException for these.
func (c *Certificates) AttachThingPrincipal(ctx context.Context, in *iotdm.AttachThingPrincipalInput) (*iotdm.Empty, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := oneOf("thingPrincipalType", in.ThingPrincipalType, true, iotdm.ThingPrincipalExclusive, iotdm.ThingPrincipalNonExclusive); err != nil {
		return nil, err
	}
	typ := cmp.Or(in.ThingPrincipalType, iotdm.ThingPrincipalNonExclusive)
	if _, err := c.principalCertificate(in.Principal); err != nil {
		return nil, err
	}
	return c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := c.r.loadThing(ctx, tx, in.ThingName); err != nil {
			return err
		}
		if err := c.checkPrincipal(ctx, tx, in.Principal); err != nil {
			return err
		}
		var current *iotdm.ThingPrincipal
		var others []iotdm.ThingPrincipal
		err := scanDecode(ctx, tx, iotdm.KindPrincipalThing, in.Principal+"/", func(_ string, tp *iotdm.ThingPrincipal) error {
			if tp.ThingName == in.ThingName {
				current = tp
			} else {
				others = append(others, *tp)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if current != nil && current.Type == typ {
			return nil
		}
		for _, o := range others {
			if o.Type == iotdm.ThingPrincipalExclusive {
				return invalid("The principal %s is exclusively attached to thing %s", in.Principal, o.ThingName)
			}
		}
		if typ == iotdm.ThingPrincipalExclusive && len(others) > 0 {
			return invalid("The principal %s cannot be attached exclusively to thing %s: it is attached to %d other things", in.Principal, in.ThingName, len(others))
		}
		tp := iotdm.ThingPrincipal{ThingName: in.ThingName, Principal: in.Principal, Type: typ, AttachedAt: c.r.now()}
		if err := put(ctx, tx, iotdm.KindThingPrincipal, in.ThingName+"/"+in.Principal, tp); err != nil {
			return err
		}
		return put(ctx, tx, iotdm.KindPrincipalThing, in.Principal+"/"+in.ThingName, tp)
	})
}

// DetachThingPrincipal detaches a principal from a thing. The thing must
// exist; detaching a principal that is not attached changes nothing.
func (c *Certificates) DetachThingPrincipal(ctx context.Context, in *iotdm.DetachThingPrincipalInput) (*iotdm.Empty, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if _, err := c.principalCertificate(in.Principal); err != nil {
		return nil, err
	}
	return c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := c.r.loadThing(ctx, tx, in.ThingName); err != nil {
			return err
		}
		if err := tx.Delete(ctx, iotdm.KindThingPrincipal, in.ThingName+"/"+in.Principal); err != nil {
			return err
		}
		return tx.Delete(ctx, iotdm.KindPrincipalThing, in.Principal+"/"+in.ThingName)
	})
}

// listAttached pages through the attachments of kind under prefix, in key
// order, as name names them, once check (run in the same read transaction)
// passes.
func (c *Certificates) listAttached(ctx context.Context, check func(ctx context.Context, tx iotdm.ReadTx) error,
	list, kind, prefix, token string, maxResults int, name func(*iotdm.ThingPrincipal) string) ([]string, string, error) {
	size, err := pageSize(maxResults)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken(list, token)
	if err != nil {
		return nil, "", err
	}
	p := pager[string]{size: size, items: []string{}}
	err = c.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		if err := check(ctx, tx); err != nil {
			return err
		}
		return tx.Scan(ctx, kind, prefix, after, size+1, func(key string, value []byte) error {
			var tp iotdm.ThingPrincipal
			if err := json.Unmarshal(value, &tp); err != nil {
				return fmt.Errorf("decode %s %q: %w", kind, key, err)
			}
			if !p.add(key, name(&tp)) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return p.items, p.next(list), nil
}

// ListThingPrincipals lists the principals attached to a thing, in order.
func (c *Certificates) ListThingPrincipals(ctx context.Context, in *iotdm.ListThingPrincipalsInput) (*iotdm.ListThingPrincipalsOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	thingExists := func(ctx context.Context, tx iotdm.ReadTx) error {
		_, err := c.r.loadThing(ctx, tx, in.ThingName)
		return err
	}
	principals, next, err := c.listAttached(ctx, thingExists, thingPrincipalsList, iotdm.KindThingPrincipal, in.ThingName+"/",
		in.NextToken, in.MaxResults, func(tp *iotdm.ThingPrincipal) string { return tp.Principal })
	if err != nil {
		return nil, err
	}
	return &iotdm.ListThingPrincipalsOutput{Principals: principals, NextToken: next}, nil
}

// ListPrincipalThings lists the names of the things a principal is
// attached to, in order. A certificate principal must exist.
func (c *Certificates) ListPrincipalThings(ctx context.Context, in *iotdm.ListPrincipalThingsInput) (*iotdm.ListPrincipalThingsOutput, error) {
	if _, err := c.principalCertificate(in.Principal); err != nil {
		return nil, err
	}
	principalExists := func(ctx context.Context, tx iotdm.ReadTx) error { return c.checkPrincipal(ctx, tx, in.Principal) }
	things, next, err := c.listAttached(ctx, principalExists, principalThingsList, iotdm.KindPrincipalThing, in.Principal+"/",
		in.NextToken, in.MaxResults, func(tp *iotdm.ThingPrincipal) string { return tp.ThingName })
	if err != nil {
		return nil, err
	}
	return &iotdm.ListPrincipalThingsOutput{Things: things, NextToken: next}, nil
}
