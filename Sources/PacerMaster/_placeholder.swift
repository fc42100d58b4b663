enum _PacerMasterPlaceholder {}
