# The cluster file (description:id@coordinator,...) every FoundationDB client
# and server needs, published once in SSM Parameter Store: nodes read it at
# first boot, gateway and compactor tasks get it injected by ECS at start.

locals {
  coordinators = [
    for node in slice(local.nodes, 0, var.coordinator_count) : "${node.private_ip}:${var.port}"
  ]
  # The id only has to differ between clusters that could share coordinators;
  # derived from the name and addresses so no random provider is needed.
  cluster_description = replace(var.name, "-", "_")
  cluster_id          = substr(sha256("${var.name}@${join(",", local.coordinators)}"), 0, 16)
  cluster_file        = "${local.cluster_description}:${local.cluster_id}@${join(",", local.coordinators)}"
}

resource "aws_ssm_parameter" "cluster_file" {
  #checkov:skip=CKV2_AWS_34:A cluster file holds coordinator addresses and a cluster id, no credential; who may reach FoundationDB is decided by its security group. A plain String also lets the compactor's Lambda environment carry it.
  name        = "/${var.name}/foundationdb/cluster-file"
  description = "FoundationDB cluster file of ${var.name}."
  type        = "String"
  value       = local.cluster_file
  tags        = var.tags

  lifecycle {
    # After `fdbcli coordinators ...` an operator stores the new file here;
    # Terraform must not put the old one back.
    ignore_changes = [value]

    precondition {
      condition     = var.coordinator_count <= var.instance_count
      error_message = "coordinator_count (${var.coordinator_count}) cannot exceed instance_count (${var.instance_count})."
    }
  }
}
