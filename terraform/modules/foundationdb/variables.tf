variable "name" {
  description = "Name of the Stratus cluster; prefixes resource names."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the FoundationDB nodes."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the nodes, ideally one per availability zone; nodes are spread over them in order."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids needs at least one subnet."
  }
}

variable "instance_count" {
  description = "Number of FoundationDB instances (fixed: FoundationDB nodes are stateful, so no autoscaling)."
  type        = number
  default     = 3
}

variable "coordinator_count" {
  description = "How many of the instances (the first ones) are coordinators in the cluster file; odd, so a majority exists."
  type        = number
  default     = 3

  validation {
    condition     = var.coordinator_count >= 1 && var.coordinator_count % 2 == 1
    error_message = "coordinator_count must be odd (1, 3, 5...)."
  }
}

variable "redundancy_mode" {
  description = "FoundationDB redundancy mode: single (1 copy), double (2 copies, needs 3+ instances) or triple (3 copies, needs 5+). Copies are placed in different availability zones."
  type        = string
  default     = "double"

  validation {
    condition     = contains(["single", "double", "triple"], var.redundancy_mode)
    error_message = "redundancy_mode must be single, double or triple."
  }
}

variable "storage_engine" {
  description = "FoundationDB storage engine given to `configure new` when the database is created."
  type        = string
  default     = "ssd"

  validation {
    condition     = contains(["ssd", "ssd-2", "ssd-redwood-1", "memory"], var.storage_engine)
    error_message = "storage_engine must be ssd, ssd-2, ssd-redwood-1 or memory."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the nodes."
  type        = string
  default     = "m7i.large"
}

variable "architecture" {
  description = "CPU architecture of instance_type: x86_64 or arm64 (Graviton)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ami_id" {
  description = "AMI of the nodes; null takes the latest Amazon Linux 2023 for the architecture when the instances are created."
  type        = string
  default     = null
}

variable "fdb_version" {
  description = "FoundationDB release installed on the nodes; a 7.3.x to match the client Stratus is built with (infra/Dockerfile FDB_VERSION)."
  type        = string
  default     = "7.3.63"

  validation {
    condition     = can(regex("^7\\.3\\.[0-9]+$", var.fdb_version))
    error_message = "fdb_version must be a 7.3.x release: Stratus is built against the 7.3 client protocol."
  }
}

variable "processes_per_instance" {
  description = "fdbserver processes per instance, one per vCPU is FoundationDB's guidance; they listen on port, port+1, ..."
  type        = number
  default     = 2
}

variable "port" {
  description = "TCP port of the first fdbserver process on each instance."
  type        = number
  default     = 4500
}

variable "host_number_from_end" {
  description = "Node private IPs are fixed: the first node per subnet takes the address this far from the end of the subnet, the next one below it, and so on. Change it if those addresses are taken."
  type        = number
  default     = 10
}

variable "data_volume_size_gb" {
  description = "Size of each node's EBS data volume in GiB."
  type        = number
  default     = 100
}

variable "data_volume_iops" {
  description = "Provisioned IOPS of each gp3 data volume (3000 are included in the gp3 price)."
  type        = number
  default     = 3000
}

variable "data_volume_throughput" {
  description = "Provisioned throughput of each gp3 data volume in MiB/s (125 are included in the gp3 price)."
  type        = number
  default     = 125
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach FoundationDB, keyed by a name for the rule description (e.g. { gateways = sg-..., compactor = sg-... })."
  type        = map(string)
  default     = {}
}

variable "enable_session_manager" {
  description = "Allow operators onto the nodes with SSM Session Manager (there is no SSH)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the EBS volumes; null uses the AWS managed key aws/ebs."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
