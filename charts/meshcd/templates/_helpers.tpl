{{- define "meshcd.name" -}}meshcd{{- end -}}

{{- define "meshcd.fullname" -}}
{{- if contains "meshcd" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-meshcd" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "meshcd.labels" -}}
app.kubernetes.io/name: meshcd
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meshcd.selectorLabels" -}}
app.kubernetes.io/name: meshcd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
