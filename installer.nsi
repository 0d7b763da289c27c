; jukestudio Windows installer (NSIS 3, Modern UI 2).
;
; Build it with `python packaging/build.py --installer` (or `... installer --bundle-dir DIR`), which
; passes these defines to makensis:
;   BUNDLE_DIR       the PyInstaller bundle folder (dist\jukestudio), holding LICENSES.txt
;   VERSION          the package version, from pyproject.toml ("0.1.0")
;   VERSION_NUMERIC  the same as four numbers for Windows' version resource ("0.1.0.0")
;   UNINSTALL_LIST   an include listing every bundle file and folder to remove (generated from BUNDLE_DIR)
;   OUTFILE          the setup program to write (optional)
;
; The user's own data is never touched, by the installer or the uninstaller. jukestudio keeps it in
; the platformdirs folders (see docs/packaging.md):
;   projects                       %USERPROFILE%\Documents\jukestudio
;   model store, settings, logs    %LOCALAPPDATA%\jukestudio (models\, Logs\, Cache\)
; The uninstaller deletes exactly the files this installer wrote (UNINSTALL_LIST), then only folders
; left empty. It never uses RMDir /r, so even a user who installed into a folder holding their own
; files keeps them.

Unicode true

!ifndef BUNDLE_DIR
  !error "Define BUNDLE_DIR, the PyInstaller bundle folder: makensis /DBUNDLE_DIR=dist\jukestudio ... (packaging/build.py does)"
!endif
!ifndef VERSION
  !error "Define VERSION, the package version (packaging/build.py passes the one in pyproject.toml)"
!endif
!ifndef VERSION_NUMERIC
  !error "Define VERSION_NUMERIC, the version as four numbers, e.g. 0.1.0.0"
!endif
!ifndef UNINSTALL_LIST
  !error "Define UNINSTALL_LIST, the generated list of installed files (packaging/build.py writes it)"
!endif
!ifndef OUTFILE
  !define OUTFILE "jukestudio-${VERSION}-setup.exe"
!endif
!ifndef COMPRESSOR
  !define COMPRESSOR "lzma"
!endif

!define APP_NAME "jukestudio"
!define APP_EXE "jukestudio.exe"
!define LICENSE_FILE "${BUNDLE_DIR}\LICENSES.txt"
!define APP_ICON "${__FILEDIR__}\packaging\jukestudio.ico"
!define REG_APP "Software\${APP_NAME}"
!define REG_UNINSTALL "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_NAME}"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"
!include "FileFunc.nsh"

Name "${APP_NAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APP_NAME}"
InstallDirRegKey HKLM "${REG_APP}" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID ${COMPRESSOR}
ManifestDPIAware true
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION_NUMERIC}"
VIFileVersion "${VERSION_NUMERIC}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} ${VERSION} setup"
VIAddVersionKey "LegalCopyright" "MIT License; Jukebox data: OpenAI Noncommercial Use License"

; ---- Pages ----------------------------------------------------------------------------------------
!define MUI_ICON "${APP_ICON}"
!define MUI_UNICON "${APP_ICON}"
!define MUI_ABORTWARNING

!insertmacro MUI_PAGE_WELCOME
!define MUI_LICENSEPAGE_TEXT_TOP "jukestudio is MIT licensed. The Jukebox artist/genre tables it ships and the Jukebox models are under OpenAI's Noncommercial Use License: scroll down to read both."
!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start jukestudio"
!define MUI_FINISHPAGE_RUN_FUNCTION StartAsUser
!insertmacro MUI_PAGE_FINISH

!define MUI_UNCONFIRMPAGE_TEXT_TOP "The program will be removed. Your projects (Documents\jukestudio) and imported models (%LOCALAPPDATA%\jukestudio) are kept."
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; ---- Install --------------------------------------------------------------------------------------
Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "jukestudio needs a 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Function StartAsUser
  ; Through Explorer, so the app runs as the signed-in user, not with the installer's admin rights.
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\${APP_EXE}"'
FunctionEnd

Section "jukestudio (required)" SecProgram
  SectionIn RO
  ; An upgrade first removes the previous version's files, with the list its own uninstaller carries
  ; (_?= runs it in place and waits). User data is not among them.
  ${If} ${FileExists} "$INSTDIR\uninstall.exe"
    ExecWait '"$INSTDIR\uninstall.exe" /S _?=$INSTDIR'
  ${EndIf}

  SetOutPath "$INSTDIR"
  File /r "${BUNDLE_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  SetShellVarContext all
  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\Licenses.lnk" "$INSTDIR\LICENSES.txt"

  WriteRegStr HKLM "${REG_APP}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${REG_UNINSTALL}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${REG_UNINSTALL}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${REG_UNINSTALL}" "Publisher" "jukestudio developers"
  WriteRegStr HKLM "${REG_UNINSTALL}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKLM "${REG_UNINSTALL}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${REG_UNINSTALL}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${REG_UNINSTALL}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${REG_UNINSTALL}" "NoModify" 1
  WriteRegDWORD HKLM "${REG_UNINSTALL}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${REG_UNINSTALL}" "EstimatedSize" "$0"
SectionEnd

Section "Desktop shortcut" SecDesktop
  SetShellVarContext all
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}"
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecProgram} "The jukestudio window and the jukestudio-cli command line. Models are not included: import them after installing."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "A jukestudio shortcut on the desktop."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; ---- Uninstall ------------------------------------------------------------------------------------
Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  SetShellVarContext all
  Delete "$DESKTOP\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\Licenses.lnk"
  RMDir "$SMPROGRAMS\${APP_NAME}"

  ; Exactly the installed files, then the folders they leave empty (see the header).
  !include "${UNINSTALL_LIST}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey HKLM "${REG_UNINSTALL}"
  DeleteRegKey HKLM "${REG_APP}"
SectionEnd
