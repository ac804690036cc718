{{/* The release's base name: the release name, or "<release>-sonde" when it does not contain "sonde". */}}
{{- define "sonde.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sonde.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object; the selector labels are the stable subset. */}}
{{- define "sonde.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sonde.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sonde.labels" -}}
{{ include "sonde.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sonde.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sonde.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's image, which is also the injected init container's unless agent.image is set. */}}
{{- define "sonde.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "sonde.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "sonde.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{- define "sonde.certSecretName" -}}
{{- printf "%s-cert" (include "sonde.fullname" .) -}}
{{- end -}}

{{/* HTTPS when TLS is on (probes, ServiceMonitor), else HTTP. */}}
{{- define "sonde.scheme" -}}
{{- if eq .Values.tls.mode "none" -}}HTTP{{- else -}}HTTPS{{- end -}}
{{- end -}}

{{/* The operator's permissions (files/rbac-rules.yaml) with this release's names filled in. */}}
{{- define "sonde.rbacRules" -}}
{{- .Files.Get "files/rbac-rules.yaml" | replace "WEBHOOK_CONFIG" (include "sonde.fullname" .) | replace "TLS_SECRET" (include "sonde.tlsSecretName" .) -}}
{{- end -}}
