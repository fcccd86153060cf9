package control

import (
	"context"

	"github.com/iotdm/iotdm"
)

func init() {
	// CA certificates carry tags (RegisterCACertificate's tags, TagResource
	// on a cacert ARN) in their stored record; device certificates have none.
	taggableKinds[caARNPrefix] = iotdm.KindCACertificate
}

func certNotFound(id string) error {
	return notFound("The certificate %s does not exist", id)
}

func caNotFound(id string) error {
	return notFound("The CA certificate %s does not exist", id)
}

// loadCertificate reads one device certificate.
func loadCertificate(ctx context.Context, tx getter, id string) (*iotdm.StoredCertificate, error) {
	cert, ok, err := get[iotdm.StoredCertificate](ctx, tx, iotdm.KindCertificate, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, certNotFound(id)
	}
	return cert, nil
}

// loadCA reads one registered CA certificate.
func loadCA(ctx context.Context, tx getter, id string) (*storedCA, error) {
	ca, ok, err := get[storedCA](ctx, tx, iotdm.KindCACertificate, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, caNotFound(id)
	}
	return ca, nil
}

// DescribeCertificate returns one device certificate.
func (c *Certificates) DescribeCertificate(ctx context.Context, in *iotdm.DescribeCertificateInput) (*iotdm.DescribeCertificateOutput, error) {
	if err := validateCertificateID("certificateId", in.CertificateID); err != nil {
		return nil, err
	}
	cert, err := loadCertificate(ctx, c.r.store, in.CertificateID)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeCertificateOutput{CertificateDescription: cert.CertificateDescription}, nil
}

// DescribeCACertificate returns one registered CA certificate and its
// just-in-time provisioning settings.
func (c *Certificates) DescribeCACertificate(ctx context.Context, in *iotdm.DescribeCACertificateInput) (*iotdm.DescribeCACertificateOutput, error) {
	if err := validateCertificateID("caCertificateId", in.CertificateID); err != nil {
		return nil, err
	}
	ca, err := loadCA(ctx, c.r.store, in.CertificateID)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeCACertificateOutput{CertificateDescription: ca.CACertificateDescription, RegistrationConfig: ca.RegistrationConfig}, nil
}

// checkTransition refuses a status change UpdateCertificate may not make
// (AWS §5.1): PENDING_TRANSFER and PENDING_ACTIVATION are set by AWS only
// and REGISTER_INACTIVE is deprecated (InvalidRequestException); REVOKED
// is terminal and a certificate being transferred cannot change
// (CertificateStateException).
func checkTransition(id, from, to string) error {
	switch to {
	case iotdm.CertificateActive, iotdm.CertificateInactive, iotdm.CertificateRevoked:
	case iotdm.CertificatePendingTransfer, iotdm.CertificatePendingActivation:
		return invalid("The status of a certificate cannot be set to %s", to)
	case iotdm.CertificateRegisterInactive:
		return invalid("The status REGISTER_INACTIVE is deprecated and cannot be set")
	default:
		return oneOf("newStatus", to, false, certificateStatuses...)
	}
	switch {
	case from == to:
		return nil
	case from == iotdm.CertificateRevoked:
		return iotdm.Errorf(iotdm.ErrCertificateState, "The certificate %s is REVOKED; a revoked certificate cannot become %s", id, to)
	case from == iotdm.CertificatePendingTransfer:
		return iotdm.Errorf(iotdm.ErrCertificateState, "The certificate %s is PENDING_TRANSFER; cancel the transfer first", id)
	}
	return nil
}

// UpdateCertificate changes a certificate's status. Setting the status it
// already has changes nothing.
func (c *Certificates) UpdateCertificate(ctx context.Context, in *iotdm.UpdateCertificateInput) (*iotdm.Empty, error) {
	if err := validateCertificateID("certificateId", in.CertificateID); err != nil {
		return nil, err
	}
	if err := checkTransition(in.CertificateID, "", in.NewStatus); err != nil {
		return nil, err
	}
	return c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cert, err := loadCertificate(ctx, tx, in.CertificateID)
		if err != nil {
			return err
		}
		if err := checkTransition(in.CertificateID, cert.Status, in.NewStatus); err != nil || cert.Status == in.NewStatus {
			return err
		}
		cert.Status = in.NewStatus
		c.modified(&cert.LastModifiedDate, &cert.CustomerVersion, &cert.GenerationID)
		return put(ctx, tx, iotdm.KindCertificate, cert.CertificateID, cert)
	})
}

// UpdateCACertificate changes a CA's status, its auto-registration status
// and its provisioning template. removeAutoRegistration turns
// auto-registration off and drops the template; it cannot be combined with
// newAutoRegistrationStatus=ENABLE or a registrationConfig.
func (c *Certificates) UpdateCACertificate(ctx context.Context, in *iotdm.UpdateCACertificateInput) (*iotdm.Empty, error) {
	if err := validateCertificateID("caCertificateId", in.CertificateID); err != nil {
		return nil, err
	}
	if err := oneOf("newStatus", in.NewStatus, true, iotdm.CACertificateActive, iotdm.CACertificateInactive); err != nil {
		return nil, err
	}
	if err := oneOf("newAutoRegistrationStatus", in.NewAutoRegistrationStatus, true, iotdm.AutoRegistrationEnable, iotdm.AutoRegistrationDisable); err != nil {
		return nil, err
	}
	if err := validateRegistrationConfig(in.RegistrationConfig); err != nil {
		return nil, err
	}
	if in.RemoveAutoRegistration && (in.RegistrationConfig != nil || in.NewAutoRegistrationStatus == iotdm.AutoRegistrationEnable) {
		return nil, invalid("removeAutoRegistration cannot be combined with registrationConfig or newAutoRegistrationStatus ENABLE")
	}
	return c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		ca, err := loadCA(ctx, tx, in.CertificateID)
		if err != nil {
			return err
		}
		old := ca.StoredCACertificate
		if in.NewStatus != "" {
			ca.Status = in.NewStatus
		}
		if in.NewAutoRegistrationStatus != "" {
			ca.AutoRegistrationStatus = in.NewAutoRegistrationStatus
		}
		if in.RegistrationConfig != nil {
			ca.RegistrationConfig = normalizeRegistrationConfig(in.RegistrationConfig)
		}
		if in.RemoveAutoRegistration {
			ca.AutoRegistrationStatus = iotdm.AutoRegistrationDisable
			ca.RegistrationConfig = nil
		}
		if sameCA(&old, &ca.StoredCACertificate) {
			return nil
		}
		c.modified(&ca.LastModifiedDate, &ca.CustomerVersion, &ca.GenerationID)
		return put(ctx, tx, iotdm.KindCACertificate, ca.CertificateID, ca)
	})
}

// sameCA reports whether an update left a CA's settings as they were.
func sameCA(a, b *iotdm.StoredCACertificate) bool {
	if a.Status != b.Status || a.AutoRegistrationStatus != b.AutoRegistrationStatus {
		return false
	}
	if a.RegistrationConfig == nil || b.RegistrationConfig == nil {
		return a.RegistrationConfig == b.RegistrationConfig
	}
	return *a.RegistrationConfig == *b.RegistrationConfig
}

// hasAny reports whether kind holds an entity under prefix.
func hasAny(ctx context.Context, tx iotdm.ReadTx, kind, prefix string) (bool, error) {
	found := false
	err := tx.Scan(ctx, kind, prefix, "", 1, func(string, []byte) error {
		found = true
		return nil
	})
	return found, err
}

// DeleteCertificate deletes a device certificate (AWS §5.1): not while it
// is ACTIVE (CertificateStateException), not while it is attached to a
// thing, and not while policies are attached unless forceDelete, which
// detaches them (DeleteConflictException).
func (c *Certificates) DeleteCertificate(ctx context.Context, in *iotdm.DeleteCertificateInput) (*iotdm.Empty, error) {
	if err := validateCertificateID("certificateId", in.CertificateID); err != nil {
		return nil, err
	}
	return c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cert, err := loadCertificate(ctx, tx, in.CertificateID)
		if err != nil {
			return err
		}
		if cert.Status == iotdm.CertificateActive {
			return iotdm.Errorf(iotdm.ErrCertificateState, "Certificate must be deactivated (not ACTIVE) before deletion.")
		}
		principal := cert.CertificateARN
		attached, err := hasAny(ctx, tx, iotdm.KindPrincipalThing, principal+"/")
		if err != nil {
			return err
		}
		if attached {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "Things must be detached before deletion (arn: %s)", principal)
		}
		policies, err := attachedPolicyNames(ctx, tx, principal)
		if err != nil {
			return err
		}
		if len(policies) > 0 && !in.ForceDelete {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "Certificate policies must be detached before deletion (arn: %s)", principal)
		}
		for _, policy := range policies {
			if err := deleteAttachment(ctx, tx, policy, principal); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, iotdm.KindCertificate, in.CertificateID)
	})
}

// DeleteCACertificate deletes a registered CA certificate, which must be
// INACTIVE (CertificateStateException). Device certificates registered
// under it stay, with its id as their caCertificateId: AWS documents no
// other condition and models no DeleteConflictException for the operation.
func (c *Certificates) DeleteCACertificate(ctx context.Context, in *iotdm.DeleteCACertificateInput) (*iotdm.Empty, error) {
	if err := validateCertificateID("caCertificateId", in.CertificateID); err != nil {
		return nil, err
	}
	out, err := c.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		ca, err := loadCA(ctx, tx, in.CertificateID)
		if err != nil {
			return err
		}
		if ca.Status != iotdm.CACertificateInactive {
			return iotdm.Errorf(iotdm.ErrCertificateState, "The CA certificate must be deactivated (INACTIVE) before deletion.")
		}
		return tx.Delete(ctx, iotdm.KindCACertificate, in.CertificateID)
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("CA certificate deleted", "caCertificateId", in.CertificateID)
	return out, nil
}

// listCertificates pages through the device certificates keep accepts in
// creation order, newest first unless ascending.
func (c *Certificates) listCertificates(ctx context.Context, list string, pageSize int, marker string, ascending bool, keep func(*iotdm.StoredCertificate) bool) ([]iotdm.Certificate, string, error) {
	size, err := pageSizeOf("pageSize", pageSize)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(list, marker)
	if err != nil {
		return nil, "", err
	}
	var items []keyed[iotdm.Certificate]
	err = c.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return scanDecode(ctx, tx, iotdm.KindCertificate, "", func(key string, cert *iotdm.StoredCertificate) error {
			if keep(cert) {
				items = append(items, keyed[iotdm.Certificate]{timeKey(cert.CreationDate, key), iotdm.Certificate{
					CertificateARN: cert.CertificateARN, CertificateID: cert.CertificateID, Status: cert.Status,
					CertificateMode: cert.CertificateMode, CreationDate: cert.CreationDate}})
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	page, next := markerPage(list, items, after, size, ascending)
	return page, next, nil
}

// ListCertificates lists the device certificates in creation order, newest
// first unless ascendingOrder.
func (c *Certificates) ListCertificates(ctx context.Context, in *iotdm.ListCertificatesInput) (*iotdm.ListCertificatesOutput, error) {
	certs, next, err := c.listCertificates(ctx, certificateListName, in.PageSize, in.Marker, in.AscendingOrder,
		func(*iotdm.StoredCertificate) bool { return true })
	if err != nil {
		return nil, err
	}
	return &iotdm.ListCertificatesOutput{Certificates: certs, NextMarker: next}, nil
}

// ListCertificatesByCA lists the device certificates registered under a CA
// certificate. The model declares no ResourceNotFoundException: an unknown
// CA has none.
func (c *Certificates) ListCertificatesByCA(ctx context.Context, in *iotdm.ListCertificatesByCAInput) (*iotdm.ListCertificatesByCAOutput, error) {
	if err := validateCertificateID("caCertificateId", in.CACertificateID); err != nil {
		return nil, err
	}
	certs, next, err := c.listCertificates(ctx, certsByCAListName+"/"+in.CACertificateID, in.PageSize, in.Marker, in.AscendingOrder,
		func(cert *iotdm.StoredCertificate) bool { return cert.CACertificateID == in.CACertificateID })
	if err != nil {
		return nil, err
	}
	return &iotdm.ListCertificatesByCAOutput{Certificates: certs, NextMarker: next}, nil
}

// ListCACertificates lists the registered CA certificates in creation
// order, newest first unless ascendingOrder; templateName keeps those whose
// provisioning template it names.
func (c *Certificates) ListCACertificates(ctx context.Context, in *iotdm.ListCACertificatesInput) (*iotdm.ListCACertificatesOutput, error) {
	size, err := pageSizeOf("pageSize", in.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeMarker(caListName, in.Marker)
	if err != nil {
		return nil, err
	}
	var items []keyed[iotdm.CACertificate]
	err = c.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return scanDecode(ctx, tx, iotdm.KindCACertificate, "", func(key string, ca *storedCA) error {
			if in.TemplateName != "" && (ca.RegistrationConfig == nil || ca.RegistrationConfig.TemplateName != in.TemplateName) {
				return nil
			}
			items = append(items, keyed[iotdm.CACertificate]{timeKey(ca.CreationDate, key), iotdm.CACertificate{
				CertificateARN: ca.CertificateARN, CertificateID: ca.CertificateID, Status: ca.Status, CreationDate: ca.CreationDate}})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	cas, next := markerPage(caListName, items, after, size, in.AscendingOrder)
	return &iotdm.ListCACertificatesOutput{Certificates: cas, NextMarker: next}, nil
}
