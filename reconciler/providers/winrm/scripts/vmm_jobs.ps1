# The state of VMM jobs ($Data.ids): status, progress, current step, and for a failed job its ErrorInfo (VMM's
# error code, the problem and the recommended action). One object per job.
param($Data)
# include: _vmm

foreach ($id in @($Data.ids)) {
    $job = Get-SCJob -ID ([guid][string]$id)
    if (-not $job) {
        Write-Error -Message "VMM job $id does not exist" -Category ObjectNotFound -TargetObject ([string]$id) -ErrorAction Stop
    }
    $errorInfo = $null
    if ($job.ErrorInfo) {
        $errorInfo = [pscustomobject]@{
            Code              = [string]$job.ErrorInfo.DisplayableErrorCode
            DetailedCode      = [string]$job.ErrorInfo.DetailedCode
            Problem           = [string]$job.ErrorInfo.Problem
            RecommendedAction = [string]$job.ErrorInfo.RecommendedAction
        }
    }
    [pscustomobject]@{
        ID          = [string]$job.ID
        Name        = $job.Name
        Status      = [string]$job.Status
        Progress    = [string]$job.Progress
        CurrentStep = [string]$job.CurrentStep.Name
        ErrorInfo   = $errorInfo
    }
}
