package lookup

import "reflect"

func reflectTypeOfRecord() reflect.Type { return reflect.TypeFor[mmdbRecord]() }
