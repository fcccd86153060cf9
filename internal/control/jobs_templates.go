package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iotdm/iotdm"
)

// Job templates (AWS "Job templates"): a document and a configuration
// CreateJob can start from (jobTemplateArn). A template is made from an
// inline document or from an existing job (jobArn); documentSource (S3)
// and maintenance windows are not supported.

// CreateJobTemplate creates a job template; an existing id is
// ConflictException.
func (j *Jobs) CreateJobTemplate(ctx context.Context, in *iotdm.CreateJobTemplateInput) (*iotdm.CreateJobTemplateOutput, error) {
	if err := validateJobID("jobTemplateId", in.JobTemplateID); err != nil {
		return nil, err
	}
	if in.Description == "" {
		return nil, invalid("description is required")
	}
	for _, err := range []error{
		validateJobConfig(in.Description, in.PresignedURLConfig, in.JobExecutionsRolloutConfig, in.AbortConfig, in.TimeoutConfig, in.JobExecutionsRetryConfig),
		validateTags(in.Tags), validatePackageVersions(in.DestinationPackageVersions),
	} {
		if err != nil {
			return nil, err
		}
	}
	if len(in.MaintenanceWindows) > 0 {
		return nil, invalid("maintenanceWindows is not supported by this endpoint")
	}
	sources := 0
	for _, s := range []string{in.JobARN, in.Document, in.DocumentSource} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, invalid("A job template needs exactly one of jobArn, document and documentSource")
	}
	if in.DocumentSource != "" {
		return nil, invalid("documentSource (a job document in Amazon S3) is not supported by this endpoint; pass the document inline")
	}
	t := &iotdm.JobTemplateRecord{
		JobTemplateID: in.JobTemplateID, JobTemplateARN: j.arn("jobtemplate", in.JobTemplateID),
		Description: in.Description, Document: in.Document, PresignedURLConfig: in.PresignedURLConfig,
		JobExecutionsRolloutConfig: in.JobExecutionsRolloutConfig, AbortConfig: in.AbortConfig,
		TimeoutConfig: in.TimeoutConfig, JobExecutionsRetryConfig: in.JobExecutionsRetryConfig,
		DestinationPackageVersions: in.DestinationPackageVersions, Tags: in.Tags,
		CreatedAt: iotdm.Timestamp{Time: j.opts.Now().UTC().Truncate(time.Millisecond)},
	}
	if in.Document != "" {
		if err := validateDocument(in.Document); err != nil {
			return nil, err
		}
	}
	err := j.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, ok, err := tx.Get(ctx, iotdm.KindJobTemplate, in.JobTemplateID); err != nil {
			return err
		} else if ok {
			return &iotdm.Error{Code: iotdm.ErrConflict, Message: fmt.Sprintf("Job template %s already exists", in.JobTemplateID),
				ResourceID: in.JobTemplateID}
		}
		if in.JobARN != "" {
			id, ok := j.nameFromARN("job", in.JobARN)
			if !ok {
				return notFound("Job %s does not exist", in.JobARN)
			}
			job, err := j.loadJob(ctx, tx, id)
			if err != nil {
				return err
			}
			t.Document = job.Document
			if t.PresignedURLConfig == nil {
				t.PresignedURLConfig = job.PresignedURLConfig
			}
			if t.JobExecutionsRolloutConfig == nil {
				t.JobExecutionsRolloutConfig = job.JobExecutionsRolloutConfig
			}
			if t.AbortConfig == nil {
				t.AbortConfig = job.AbortConfig
			}
			if t.TimeoutConfig == nil {
				t.TimeoutConfig = job.TimeoutConfig
			}
			if t.JobExecutionsRetryConfig == nil {
				t.JobExecutionsRetryConfig = job.JobExecutionsRetryConfig
			}
			if t.DestinationPackageVersions == nil {
				t.DestinationPackageVersions = job.DestinationPackageVersions
			}
		}
		return put(ctx, tx, iotdm.KindJobTemplate, t.JobTemplateID, t)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.CreateJobTemplateOutput{JobTemplateARN: t.JobTemplateARN, JobTemplateID: t.JobTemplateID}, nil
}

func (j *Jobs) loadTemplate(ctx context.Context, id string) (*iotdm.JobTemplateRecord, error) {
	if err := validateJobID("jobTemplateId", id); err != nil {
		return nil, err
	}
	t, ok, err := get[iotdm.JobTemplateRecord](ctx, j.store, iotdm.KindJobTemplate, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Job template %s does not exist", id)
	}
	return t, nil
}

// DescribeJobTemplate returns a job template.
func (j *Jobs) DescribeJobTemplate(ctx context.Context, in *iotdm.DescribeJobTemplateInput) (*iotdm.DescribeJobTemplateOutput, error) {
	t, err := j.loadTemplate(ctx, in.JobTemplateID)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeJobTemplateOutput{
		JobTemplateARN: t.JobTemplateARN, JobTemplateID: t.JobTemplateID, Description: t.Description,
		Document: t.Document, CreatedAt: t.CreatedAt, PresignedURLConfig: t.PresignedURLConfig,
		JobExecutionsRolloutConfig: t.JobExecutionsRolloutConfig, AbortConfig: t.AbortConfig,
		TimeoutConfig: t.TimeoutConfig, JobExecutionsRetryConfig: t.JobExecutionsRetryConfig,
		DestinationPackageVersions: t.DestinationPackageVersions,
	}, nil
}

// ListJobTemplates lists job templates in id order.
func (j *Jobs) ListJobTemplates(ctx context.Context, in *iotdm.ListJobTemplatesInput) (*iotdm.ListJobTemplatesOutput, error) {
	size, err := jobPageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("jobtemplates", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.JobTemplateSummary]{size: size}
	err = j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindJobTemplate, "", after, size+1, func(key string, v []byte) error {
			t := new(iotdm.JobTemplateRecord)
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("decode job template %q: %w", key, err)
			}
			if !p.add(key, iotdm.JobTemplateSummary{JobTemplateARN: t.JobTemplateARN, JobTemplateID: t.JobTemplateID,
				Description: t.Description, CreatedAt: t.CreatedAt}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, iotdm.ErrStopScan) {
		return nil, err
	}
	out := &iotdm.ListJobTemplatesOutput{JobTemplates: p.page(), NextToken: p.next("jobtemplates")}
	return out, nil
}

// DeleteJobTemplate deletes a job template; jobs made from it keep their
// document and configuration.
func (j *Jobs) DeleteJobTemplate(ctx context.Context, in *iotdm.DeleteJobTemplateInput) (*iotdm.Empty, error) {
	if err := validateJobID("jobTemplateId", in.JobTemplateID); err != nil {
		return nil, err
	}
	err := j.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, ok, err := tx.Get(ctx, iotdm.KindJobTemplate, in.JobTemplateID); err != nil {
			return err
		} else if !ok {
			return notFound("Job template %s does not exist", in.JobTemplateID)
		}
		return tx.Delete(ctx, iotdm.KindJobTemplate, in.JobTemplateID)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}
