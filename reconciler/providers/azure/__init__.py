"""The Azure provider: Azure Site Recovery (vault, policies, mappings, protected items) and the tenant side
(resource groups, storage accounts, virtual networks) through the Azure SDK."""
