"""The import seed of the example estate (``reconciler import --seed``): its sites' VMM servers and vaults, its
tenants' plans. Shared by the import tests of each backend."""

SEED = """\
apiVersion: reconciler/v1
kind: ImportSeed
metadata: {name: contoso}
spec:
  sites:
    - name: contoso-west
      vmm: {server: VMM01.contoso.int}
      recoveryVault:
        subscriptionId: 00000000-0000-0000-0000-000000000001
        resourceGroup: WAPRecoveryGroup
        name: WAPRecoveryVault
  tenants:
    - name: acmecorp
      site: contoso-west
      plan:
        name: AcmeCorp Plan
        azure: {tenantId: 11111111-1111-1111-1111-111111111111, subscriptionId: 22222222-2222-2222-2222-222222222222}
        allowedVmSizes: [Standard_D2s_v3, Standard_D4s_v3]
    - name: fabrikam
      site: contoso-west
      plan:
        name: Fabrikam Plan
        azure: {tenantId: 33333333-3333-3333-3333-333333333333, subscriptionId: 44444444-4444-4444-4444-444444444444}
"""
