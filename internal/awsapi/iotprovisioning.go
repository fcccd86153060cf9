package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// ProvisioningRoutes are the routes of the provisioning templates control
// plane (AWS §5.4) on the AWS IoT endpoint, with the methods and URI
// templates of the botocore iot model; pass them to NewIoT. Every one
// answers 200: the model overrides no responseCode.
func ProvisioningRoutes(svc iotdm.ProvisioningTemplates) []Route {
	const (
		get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("CreateProvisioningTemplate", post, "/provisioning-templates", svc.CreateProvisioningTemplate),
		Op("DescribeProvisioningTemplate", get, "/provisioning-templates/{templateName}", svc.DescribeProvisioningTemplate),
		Op("ListProvisioningTemplates", get, "/provisioning-templates", svc.ListProvisioningTemplates),
		Op("UpdateProvisioningTemplate", patch, "/provisioning-templates/{templateName}", svc.UpdateProvisioningTemplate),
		Op("DeleteProvisioningTemplate", del, "/provisioning-templates/{templateName}", svc.DeleteProvisioningTemplate),

		Op("CreateProvisioningTemplateVersion", post, "/provisioning-templates/{templateName}/versions", svc.CreateProvisioningTemplateVersion),
		Op("DescribeProvisioningTemplateVersion", get, "/provisioning-templates/{templateName}/versions/{versionId}", svc.DescribeProvisioningTemplateVersion),
		Op("ListProvisioningTemplateVersions", get, "/provisioning-templates/{templateName}/versions", svc.ListProvisioningTemplateVersions),
		Op("DeleteProvisioningTemplateVersion", del, "/provisioning-templates/{templateName}/versions/{versionId}", svc.DeleteProvisioningTemplateVersion),
	}
}
