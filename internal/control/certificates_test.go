package control_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// certFixture is a certificate service on a real SQLite store with a
// settable clock, the registry beside it, and a customer CA (ext) that
// issues certificates to register.
type certFixture struct {
	certs *control.Certificates
	reg   *control.Registry
	db    iotdm.Store
	clk   *clock
	ext   *pki.CA
}

func newCertFixture(t *testing.T) *certFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ca, err := pki.NewCA(pki.CAOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pki.NewCA(pki.CAOptions{CommonName: "Customer CA", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts := control.CertificatesOptions{Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}
	return &certFixture{
		certs: control.NewCertificates(db, ca, opts),
		reg:   control.NewRegistry(db, control.RegistryOptions{Region: opts.Region, AccountID: opts.AccountID, Now: clk.Now}),
		db:    db, clk: clk, ext: ext,
	}
}

// register registers a fresh certificate of ext without a CA and returns
// its id and ARN.
func (f *certFixture) register(t *testing.T, status string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := f.ext.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: "device"}, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.certs.RegisterCertificateWithoutCA(t.Context(), &iotdm.RegisterCertificateWithoutCAInput{CertificatePem: string(pki.EncodeCertificatePEM(der)), Status: status})
	if err != nil {
		t.Fatalf("RegisterCertificateWithoutCA: %v", err)
	}
	return out.CertificateID, out.CertificateARN
}

func (f *certFixture) lastSeq(t *testing.T) uint64 {
	t.Helper()
	seq, err := f.db.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (f *certFixture) exists(t *testing.T, kind, key string) bool {
	t.Helper()
	_, ok, err := f.db.Get(t.Context(), kind, key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// Timestamps come from the injected clock; every modification writes one
// change with a new generationId and the next customerVersion; a request
// that changes nothing or is refused writes nothing.
func TestCertificateModificationsAndFeed(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	created := f.clk.Now()
	id, _ := f.register(t, "")
	d, err := f.certs.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: id})
	if err != nil {
		t.Fatal(err)
	}
	if !d.CertificateDescription.CreationDate.Equal(created) || d.CertificateDescription.CustomerVersion != 1 {
		t.Fatalf("DescribeCertificate = created %s version %d, want %s 1", d.CertificateDescription.CreationDate, d.CertificateDescription.CustomerVersion, created)
	}

	f.clk.advance(time.Minute)
	seq := f.lastSeq(t)
	if _, err := f.certs.UpdateCertificate(ctx, &iotdm.UpdateCertificateInput{CertificateID: id, NewStatus: iotdm.CertificateActive}); err != nil {
		t.Fatal(err)
	}
	changes, err := f.db.Changes(ctx, seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Kind != iotdm.KindCertificate || changes[0].Key != id || changes[0].Op != iotdm.OpPut {
		t.Fatalf("UpdateCertificate wrote %+v, want one put of %s/%s", changes, iotdm.KindCertificate, id)
	}
	var stored iotdm.StoredCertificate
	if err := json.Unmarshal(changes[0].Value, &stored); err != nil {
		t.Fatal(err)
	}
	old := d.CertificateDescription
	if stored.Status != iotdm.CertificateActive || stored.CustomerVersion != 2 || stored.GenerationID == old.GenerationID ||
		!stored.LastModifiedDate.Equal(f.clk.Now()) || !stored.CreationDate.Equal(created) {
		t.Errorf("after update: %s v%d generation changed %v modified %s created %s; want ACTIVE v2 true %s %s",
			stored.Status, stored.CustomerVersion, stored.GenerationID != old.GenerationID, stored.LastModifiedDate, stored.CreationDate, f.clk.Now(), created)
	}

	seq = f.lastSeq(t)
	for _, in := range []*iotdm.UpdateCertificateInput{
		{CertificateID: id, NewStatus: iotdm.CertificateActive},           // already ACTIVE
		{CertificateID: id, NewStatus: iotdm.CertificatePendingTransfer},  // not settable
		{CertificateID: id, NewStatus: iotdm.CertificateRegisterInactive}, // deprecated
	} {
		_, err := f.certs.UpdateCertificate(ctx, in)
		if in.NewStatus != iotdm.CertificateActive && !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
			t.Errorf("UpdateCertificate(%s) = %v, want InvalidRequestException", in.NewStatus, err)
		}
	}
	_, err = f.certs.DeleteCertificate(ctx, &iotdm.DeleteCertificateInput{CertificateID: id})
	if !iotdm.IsCode(err, iotdm.ErrCertificateState) {
		t.Errorf("DeleteCertificate(ACTIVE) = %v, want CertificateStateException", err)
	}
	if got := f.lastSeq(t); got != seq {
		t.Errorf("no-op and refused requests moved the feed from %d to %d", seq, got)
	}
}

// Listings order by creation date, then id, in both directions, and page
// through every certificate once.
func TestListCertificatesOrder(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	type item struct {
		at time.Time
		id string
	}
	var all []item
	for i := range 9 {
		if i%3 == 0 {
			f.clk.advance(time.Second) // three certificates per instant: ties break by id
		}
		id, _ := f.register(t, "")
		all = append(all, item{f.clk.Now(), id})
	}
	slices.SortFunc(all, func(a, b item) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	var want []string
	for _, it := range all {
		want = append(want, it.id)
	}
	for _, ascending := range []bool{true, false} {
		var got []string
		marker := ""
		for range 10 {
			out, err := f.certs.ListCertificates(ctx, &iotdm.ListCertificatesInput{PageSize: 2, Marker: marker, AscendingOrder: ascending})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range out.Certificates {
				got = append(got, c.CertificateID)
			}
			if marker = out.NextMarker; marker == "" {
				break
			}
		}
		w := slices.Clone(want)
		if !ascending {
			slices.Reverse(w)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("ListCertificates(ascending %v) in pages of 2 (-want +got):\n%s", ascending, diff)
		}
	}
	_, err := f.certs.ListCertificates(ctx, &iotdm.ListCertificatesInput{Marker: "!!"})
	if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
		t.Errorf("ListCertificates(bad marker) = %v, want InvalidRequestException", err)
	}
}

// An attachment is written to both sides in one transaction and removed
// from both; a thing with principals cannot be deleted.
func TestThingPrincipalBothSides(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	if _, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: "pump"}); err != nil {
		t.Fatal(err)
	}
	_, arn := f.register(t, "")
	seq := f.lastSeq(t)
	if _, err := f.certs.AttachThingPrincipal(ctx, &iotdm.AttachThingPrincipalInput{ThingName: "pump", Principal: arn, ThingPrincipalType: iotdm.ThingPrincipalExclusive}); err != nil {
		t.Fatal(err)
	}
	changes, err := f.db.Changes(ctx, seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range changes {
		keys = append(keys, c.Kind+" "+c.Key)
		var tp iotdm.ThingPrincipal
		if err := json.Unmarshal(c.Value, &tp); err != nil || tp.ThingName != "pump" || tp.Principal != arn || tp.Type != iotdm.ThingPrincipalExclusive || !tp.AttachedAt.Equal(f.clk.Now()) {
			t.Errorf("%s %s = %s (%v), want the exclusive attachment of %s to pump at %s", c.Kind, c.Key, c.Value, err, arn, f.clk.Now())
		}
	}
	want := []string{iotdm.KindThingPrincipal + " pump/" + arn, iotdm.KindPrincipalThing + " " + arn + "/pump"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("AttachThingPrincipal wrote (-want +got):\n%s", diff)
	}
	seq = f.lastSeq(t)
	if _, err := f.certs.AttachThingPrincipal(ctx, &iotdm.AttachThingPrincipalInput{ThingName: "pump", Principal: arn, ThingPrincipalType: iotdm.ThingPrincipalExclusive}); err != nil {
		t.Fatal(err)
	}
	if got := f.lastSeq(t); got != seq {
		t.Errorf("attaching again moved the feed from %d to %d", seq, got)
	}

	_, err = f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "pump"})
	if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
		t.Fatalf("DeleteThing(principal attached) = %v, want InvalidRequestException", err)
	}
	if _, err := f.certs.DetachThingPrincipal(ctx, &iotdm.DetachThingPrincipalInput{ThingName: "pump", Principal: arn}); err != nil {
		t.Fatal(err)
	}
	if f.exists(t, iotdm.KindThingPrincipal, "pump/"+arn) || f.exists(t, iotdm.KindPrincipalThing, arn+"/pump") {
		t.Errorf("DetachThingPrincipal left a side of the attachment")
	}
	if _, err := f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "pump"}); err != nil {
		t.Errorf("DeleteThing(detached) = %v, want success", err)
	}
}

// forceDelete removes both sides of every policy attachment of the
// certificate, written here directly to the store.
func TestDeleteCertificateForceDetachesPolicies(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	id, arn := f.register(t, iotdm.CertificateInactive)
	err := f.db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, p := range []string{"p1", "p2"} {
			v, _ := json.Marshal(iotdm.PolicyAttachment{PolicyName: p, Target: arn})
			if err := tx.Put(ctx, iotdm.KindTargetPolicy, arn+"/"+p, v); err != nil {
				return err
			}
			if err := tx.Put(ctx, iotdm.KindPolicyTarget, p+"/"+arn, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.certs.DeleteCertificate(ctx, &iotdm.DeleteCertificateInput{CertificateID: id})
	if !iotdm.IsCode(err, iotdm.ErrDeleteConflict) {
		t.Fatalf("DeleteCertificate(policies attached) = %v, want DeleteConflictException", err)
	}
	if !f.exists(t, iotdm.KindCertificate, id) || !f.exists(t, iotdm.KindTargetPolicy, arn+"/p1") {
		t.Fatalf("a refused delete changed the store")
	}
	if _, err := f.certs.DeleteCertificate(ctx, &iotdm.DeleteCertificateInput{CertificateID: id, ForceDelete: true}); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][2]string{{iotdm.KindCertificate, id}, {iotdm.KindTargetPolicy, arn + "/p1"}, {iotdm.KindTargetPolicy, arn + "/p2"},
		{iotdm.KindPolicyTarget, "p1/" + arn}, {iotdm.KindPolicyTarget, "p2/" + arn}} {
		if f.exists(t, k[0], k[1]) {
			t.Errorf("after forceDelete %s %s remains", k[0], k[1])
		}
	}
}

// Concurrent first calls agree on one registration code, which a CA's
// verification certificate must carry.
func TestRegistrationCode(t *testing.T) {
	f := newCertFixture(t)
	ctx := t.Context()
	const n = 16
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := f.certs.GetRegistrationCode(ctx, &iotdm.GetRegistrationCodeInput{})
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = out.RegistrationCode
		})
	}
	wg.Wait()
	for _, code := range codes {
		if code != codes[0] {
			t.Fatalf("GetRegistrationCode concurrently = %v, want one code", codes)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cn   string
		want iotdm.ErrorCode
	}{{"wrong", iotdm.ErrRegistrationCodeValid}, {codes[0], ""}} {
		der, err := f.ext.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: tc.cn}, pki.IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.certs.RegisterCACertificate(ctx, &iotdm.RegisterCACertificateInput{CACertificate: string(f.ext.PEM()), VerificationCertificate: string(pki.EncodeCertificatePEM(der))})
		if iotdm.CodeOf(err) != tc.want {
			t.Errorf("RegisterCACertificate(verification CN %q) = %v, want %q", tc.cn, err, tc.want)
		}
	}
}
